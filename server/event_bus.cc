#include "server/event_bus.h"

#include <utility>

namespace dbgd::server {

uint64_t EventBus::Subscribe(Subscriber subscriber) {
  MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  subscribers_.emplace(id, std::move(subscriber));
  return id;
}

void EventBus::Unsubscribe(uint64_t id) {
  MutexLock lock(&mu_);
  subscribers_.erase(id);
}

void EventBus::Publish(const v1::Event& event) {
  MutexLock lock(&mu_);
  for (auto& [id, subscriber] : subscribers_) subscriber(event);
}

}  // namespace dbgd::server
