// Job state names and token helpers.
#include "store/store.h"

#include <sodium.h>

#include <cstdlib>

namespace cnet::store {
namespace {

constexpr JobState kAllStates[] = {JobState::kPending,   JobState::kScheduled, JobState::kRunning,
                                   JobState::kSucceeded, JobState::kFailed,    JobState::kCancelled,
                                   JobState::kPreempted, JobState::kTimeout,   JobState::kOom};

void EnsureSodium() {
  static const int rc = sodium_init();  // 0 or 1 (already initialised) on success
  if (rc < 0) std::abort();             // no usable randomness: nothing sensible to do
}

}  // namespace

const char* StateName(JobState s) {
  switch (s) {
    case JobState::kPending: return "PENDING";
    case JobState::kScheduled: return "SCHEDULED";
    case JobState::kRunning: return "RUNNING";
    case JobState::kSucceeded: return "SUCCEEDED";
    case JobState::kFailed: return "FAILED";
    case JobState::kCancelled: return "CANCELLED";
    case JobState::kPreempted: return "PREEMPTED";
    case JobState::kTimeout: return "TIMEOUT";
    case JobState::kOom: return "OOM";
  }
  return "UNKNOWN";
}

std::optional<JobState> ParseState(const std::string& s) {
  for (JobState st : kAllStates)
    if (s == StateName(st)) return st;
  return std::nullopt;
}

bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled || s == JobState::kTimeout ||
         s == JobState::kOom;
}

std::string NewToken() {
  EnsureSodium();
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  char b64[sodium_base64_ENCODED_LEN(sizeof bytes, kVariant)];
  sodium_bin2base64(b64, sizeof b64, bytes, sizeof bytes, kVariant);
  sodium_memzero(bytes, sizeof bytes);
  return std::string("cnet_") + b64;
}

std::string HashToken(const std::string& token) {
  EnsureSodium();
  unsigned char hash[crypto_generichash_BYTES];  // 32
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  char hex[sizeof hash * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return hex;
}

std::string TokenId(const std::string& token_hash) { return "tok_" + token_hash.substr(0, 16); }

}  // namespace cnet::store
