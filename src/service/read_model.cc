#include "service/read_model.h"

namespace cnet::service {

int64_t QueueView::Position(int64_t id) const {
  std::call_once(built_, [this] {
    index_.reserve(order_.size());
    for (size_t i = 0; i < order_.size(); ++i) index_.emplace(order_[i], static_cast<uint32_t>(i));
  });
  auto it = index_.find(id);
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

}  // namespace cnet::service
