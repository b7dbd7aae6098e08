// The Unix accounts a tenant's jobs run as on sites that start processes on this machine (the
// local site). A tenant maps to one account (store::TenantRow::unix_user), by default
// DefaultUnixUser(tenant) = "cnet-<tenant>". Thread-safe (getpwnam_r, getgrouplist; account creation
// runs useradd through posix_spawn).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cnet::backends {

struct UnixAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;                 // primary group
  std::vector<gid_t> groups;     // every group of the account, the primary one included
};

// "cnet-" + the tenant's name lowercased, characters outside [a-z0-9_-] as '-', at most 32 bytes.
std::string DefaultUnixUser(const std::string& tenant);
// kInvalidArgument naming the field `unix_user` unless `name` is 1-32 of [a-z0-9_-], starting with a
// letter or '_' (what useradd accepts without --badname).
Status CheckUnixUserName(const std::string& name);
// The account and its groups; nullopt if there is no such user. kInternal if the lookup fails.
Result<std::optional<UnixAccount>> LookupAccount(const std::string& name);
// Creates a system account with its own group, no login shell and no home
// (useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin).
// Needs root. Ok if the account exists already (e.g. created meanwhile by another process).
Status CreateSystemAccount(const std::string& name);

}  // namespace cnet::backends
