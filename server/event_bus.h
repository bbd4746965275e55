// EventBus: fans control-plane events (sessions, servers, clients,
// commands) out to WatchEvents streams.
//
// Thread-safety: all methods may be called from any thread. Subscribers are
// called under the bus's lock, in publication order; they must not block or
// call back into the bus. After Unsubscribe returns, the subscriber is never
// called again.

#ifndef DBGD_SERVER_EVENT_BUS_H_
#define DBGD_SERVER_EVENT_BUS_H_

#include <cstdint>
#include <functional>
#include <map>

#include "common/mutex.h"
#include "dbgd/v1/control.pb.h"

namespace dbgd::server {

class EventBus {
 public:
  using Subscriber = std::function<void(const v1::Event&)>;

  // Subscribe returns an ID for Unsubscribe.
  uint64_t Subscribe(Subscriber subscriber);
  void Unsubscribe(uint64_t id);
  void Publish(const v1::Event& event);

 private:
  Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_EVENT_BUS_H_
