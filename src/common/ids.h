// Strong ids: a JobId cannot be passed where a NodeId is expected. Trivially copyable.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

namespace cnet {

template <typename Tag, typename Rep = int64_t>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr bool valid() const { return v_ >= 0; }
  friend constexpr auto operator<=>(const StrongId&, const StrongId&) = default;
  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.v_; }

 private:
  Rep v_ = -1;
};

using JobId = StrongId<struct JobIdTag>;
using NodeId = StrongId<struct NodeIdTag, int32_t>;
using RackId = StrongId<struct RackIdTag, int32_t>;
using SiteId = StrongId<struct SiteIdTag, int32_t>;
// Index of an accelerator type in the catalogue.
using AccelId = StrongId<struct AccelIdTag, int32_t>;
// Index of a job type in a throughput matrix.
using JobTypeId = StrongId<struct JobTypeIdTag, int32_t>;

}  // namespace cnet

template <typename Tag, typename Rep>
struct std::hash<cnet::StrongId<Tag, Rep>> {
  size_t operator()(const cnet::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};
