// Reading a job's log file for the log endpoint without following links: the file is opened
// relative to its directory with O_NOFOLLOW, and only a regular file is read (a symbolic link, a
// FIFO or a device is refused), so a job that swaps its log for a link to /etc/shadow gets nothing
// served. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace cnet::api {

// Up to `max` bytes of `path` from `offset` ("" at the end of the file). kNotFound if the file does
// not exist (yet); kPermissionDenied if it is not a regular file; kInternal on other I/O errors.
Result<std::string> ReadLogChunk(const std::string& path, size_t offset, size_t max);

}  // namespace cnet::api
