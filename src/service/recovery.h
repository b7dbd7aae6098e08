// Start-up recovery: every job the store holds as not terminal is taken back. Waiting jobs queue
// again; dispatched ones are found on their sites (adopted from their handle, or looked up by the
// site when a crash interrupted their dispatch) and re-take their exact placement; runs that are
// gone are requeued (within max_retries) or reported lost. Runs through the same JobTable and
// LoopState operations as the loop. Loop thread (before it starts).
#pragma once

#include <memory>

#include "service/loop_state.h"

namespace cnet::service {

// A store error, or a stored row that cannot be read (naming the job and the field), fails
// recovery: the service does not start with a partial view of its jobs.
Status Recover(LoopState& st);
// A stored row as the loop holds it (spec re-read and re-admitted; array, hold and cancel/requeue
// marks from the row). InvalidArgument when its spec no longer parses or is no longer admissible.
Result<std::unique_ptr<Active>> ActiveFromRow(LoopState& st, const store::JobRow& row);

}  // namespace cnet::service
