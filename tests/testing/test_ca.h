// A throwaway certificate authority made with the `openssl` command (Debian package openssl) at
// test time: ca.pem, a server certificate for 127.0.0.1 and localhost signed by it (server.pem,
// server.key), and a second, unrelated CA (other-ca.pem) that must not verify that server.
#pragma once

#include <cstdlib>
#include <string>

namespace cnet::testing {

struct TestCa {
  std::string ca, cert, key, other_ca;
  std::string error;  // non-empty: openssl failed (the test should fail with it)
};

inline TestCa MakeTestCa(const std::string& dir) {
  TestCa t{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key", dir + "/other-ca.pem", ""};
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string cmd =
      "set -e; cd '" + dir + "'; exec 2> openssl.err;"
      "openssl req -x509" + ec + " -keyout ca.key -out ca.pem -days 2 -subj '/CN=cnet test CA';"
      "openssl req" + ec + " -keyout server.key -out server.csr -subj '/CN=127.0.0.1';"
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > server.ext;"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext;"
      "openssl req -x509" + ec + " -keyout other-ca.key -out other-ca.pem -days 2 -subj '/CN=cnet other CA'";
  if (std::system(cmd.c_str()) != 0)
    t.error = "openssl failed making a test CA in " + dir + " (see openssl.err there)";
  return t;
}

}  // namespace cnet::testing
