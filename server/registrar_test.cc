#include "server/registrar.h"

#include <future>

#include "asio/post.hpp"
#include "common/event_loop.h"
#include "common/notification.h"
#include "discovery/embedded_registry.h"
#include "gtest/gtest.h"

namespace dbgd::server {
namespace {

v1::Event Created(int id) {
  v1::Event event;
  event.set_kind(v1::Event::SERVER_CREATED);
  v1::Server* server = event.mutable_server();
  server->set_id(id);
  server->set_name("servers/" + std::to_string(id));
  server->set_session("sessions/1");
  server->set_advertised_endpoint("tcp:Port=5005");
  server->set_state(v1::Server::LISTENING);
  return event;
}

size_t Found(discovery::Registry& registry) {
  absl::StatusOr<std::vector<discovery::EntryPtr>> found = registry.Search("");
  return found.ok() ? found->size() : 0;
}

// AwaitHandled is what makes "create a server, then search" find it: it
// waits for the registrar's strand, which the loop's one thread cannot run
// while it is busy.
TEST(RegistrarTest, AwaitHandledReturnsOnceEarlierEventsAreInTheRegistry) {
  EventLoop loop(1);
  EventBus events;
  SessionManager sessions(loop.context(), events);
  discovery::EmbeddedRegistry registry;
  Registrar registrar(loop.context(), registry, events, sessions,
                      {.advertise_host = "box17"});
  Notification release;
  asio::post(loop.context(), [&release] { release.WaitForNotification(); });

  events.Publish(Created(7));
  std::future<void> awaited = std::async(std::launch::async, [&registrar] {
    registrar.AwaitHandled(absl::Seconds(30));
  });
  EXPECT_EQ(awaited.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  EXPECT_EQ(Found(registry), 0u);  // not yet: the loop is busy

  release.Notify();
  awaited.get();
  EXPECT_EQ(Found(registry), 1u);
}

TEST(RegistrarTest, AwaitHandledGivesUpAfterItsTimeout) {
  EventLoop loop(1);
  EventBus events;
  SessionManager sessions(loop.context(), events);
  discovery::EmbeddedRegistry registry;
  Registrar registrar(loop.context(), registry, events, sessions, {});
  Notification release;
  asio::post(loop.context(), [&release] { release.WaitForNotification(); });
  const absl::Time start = absl::Now();
  registrar.AwaitHandled(absl::Milliseconds(100));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  release.Notify();
}

}  // namespace
}  // namespace dbgd::server
