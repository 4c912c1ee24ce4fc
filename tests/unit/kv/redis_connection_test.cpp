#include "kv/redis_connection.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "unit/kv/redis_fixture.hpp"

namespace llmux::kv {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using test::RedisServer;
using test::runCo;
using test::runUntil;

ConnectionConfig configFor(const RedisServer& s) {
  ConnectionConfig c;
  c.port = s.port();
  c.connectTimeout = 300ms;
  c.commandTimeout = 300ms;
  c.reconnectMin = 10ms;
  c.reconnectMax = 100ms;
  return c;
}

std::shared_ptr<RedisConnection> connected(net::io_context& io, ConnectionConfig cfg) {
  auto c = RedisConnection::create(io.get_executor(), std::move(cfg));
  c->start();
  runUntil(
      io, [&] { return c->healthy(); }, 3000ms);
  return c;
}

TEST(RedisConnection, RepliesOfEveryType) {
  LLMUX_REQUIRE_REDIS();
  RedisServer srv;
  ASSERT_TRUE(srv.start());
  net::io_context io;
  auto c = connected(io, configFor(srv));
  ASSERT_TRUE(c->healthy()) << c->lastError();

  const std::string binary("a\0b\r\n\xff", 6);
  auto set = runCo(io, c->cmd("SET", "bin", binary));
  ASSERT_TRUE(set);
  EXPECT_EQ(set->type, Reply::Type::Status);
  EXPECT_EQ(set->str, "OK");

  auto get = runCo(io, c->cmd("GET", "bin"));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->type, Reply::Type::String);
  EXPECT_EQ(get->str, binary);  // binary-safe both ways
  EXPECT_EQ(srv.query({"STRLEN", "bin"}), "6");

  auto missing = runCo(io, c->cmd("GET", "nope"));
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->isNil());

  auto incr = runCo(io, c->cmd("INCRBY", "n", "-5"));
  ASSERT_TRUE(incr);
  EXPECT_EQ(incr->type, Reply::Type::Integer);
  EXPECT_EQ(incr->integer, -5);

  auto err = runCo(io, c->cmd("NOSUCHCOMMAND", "x"));
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->isError());
  EXPECT_TRUE(err->errorIs("ERR"));
  EXPECT_FALSE(err->ok());

  auto nested = runCo(io, c->cmd("EVAL", "return {1, 'two', {3, {'four'}}, false}", "0"));
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->debugString(), "[1, \"two\", [3, [\"four\"]], (nil)]");

  // A wrong type error keeps the connection usable.
  auto wrong = runCo(io, c->cmd("LPUSH", "bin", "x"));
  ASSERT_TRUE(wrong);
  EXPECT_TRUE(wrong->errorIs("WRONGTYPE"));
  EXPECT_TRUE(c->healthy());
  auto after = runCo(io, c->cmd("PING"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->str, "PONG");
}

TEST(RedisConnection, ManyCommandsInFlightAndPipeline) {
  LLMUX_REQUIRE_REDIS();
  RedisServer srv;
  ASSERT_TRUE(srv.start());
  net::io_context io;
  auto c = connected(io, configFor(srv));
  ASSERT_TRUE(c->healthy());

  constexpr int kN = 200;
  std::vector<int64_t> got;
  size_t maxInFlight = 0;
  for (int i = 0; i < kN; ++i) {
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          auto r = co_await c->cmd("INCR", "ctr");
          got.push_back(r.type == Reply::Type::Integer ? r.integer : -1);
        },
        net::detached);
  }
  // All 200 coroutines queue their command before any reply arrives.
  runUntil(io, [&] {
    maxInFlight = std::max(maxInFlight, c->inFlight());
    return got.size() == kN;
  });
  ASSERT_EQ(got.size(), static_cast<size_t>(kN));
  EXPECT_GT(maxInFlight, 1u);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(got[i], i + 1) << "replies must arrive in order";

  std::vector<std::vector<std::string>> cmds = {
      {"SET", "p1", "v1"}, {"GET", "p1"}, {"INCR", "p1"}, {"DEL", "p1"}, {"GET", "p1"}};
  auto rs = runCo(io, c->pipeline(cmds));
  ASSERT_TRUE(rs);
  ASSERT_EQ(rs->size(), 5u);
  EXPECT_EQ((*rs)[0].str, "OK");
  EXPECT_EQ((*rs)[1].str, "v1");
  EXPECT_TRUE((*rs)[2].isError());
  EXPECT_EQ((*rs)[3].integer, 1);
  EXPECT_TRUE((*rs)[4].isNil());

  auto empty = runCo(io, c->pipeline({}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());

  // A reply larger than hiredis' 16 KiB read size, so several reads follow one readiness edge.
  const std::string big(300000, 'x');
  auto setBig = runCo(io, c->cmd("SET", "big", big));
  ASSERT_TRUE(setBig && setBig->ok());
  auto getBig = runCo(io, c->cmd("GET", "big"));
  ASSERT_TRUE(getBig);
  EXPECT_EQ(getBig->str.size(), big.size());
}

TEST(RedisConnection, FailsFastWhenNothingListens) {
  LLMUX_REQUIRE_REDIS();
  RedisServer srv;
  ASSERT_TRUE(srv.start());
  const auto cfg = configFor(srv);
  srv.stop();
  net::io_context io;
  auto c = RedisConnection::create(io.get_executor(), cfg);
  c->start();
  runUntil(
      io, [&] { return c->stats().connectFailures.load() >= 2; }, 2000ms);
  EXPECT_GE(c->stats().connectFailures.load(), 2u) << "keeps retrying in the background";
  EXPECT_FALSE(c->healthy());
  EXPECT_FALSE(c->lastError().empty());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = runCo(io, c->cmd("PING"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->failed());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms);
}

TEST(RedisConnection, ReconnectsAfterServerRestart) {
  LLMUX_REQUIRE_REDIS();
  RedisServer srv;
  ASSERT_TRUE(srv.start());
  net::io_context io;
  auto c = connected(io, configFor(srv));
  ASSERT_TRUE(c->healthy());
  ASSERT_TRUE(runCo(io, c->cmd("SET", "k", "1"))->ok());

  srv.stop();
  auto down = runCo(io, c->cmd("GET", "k"));
  ASSERT_TRUE(down);
  EXPECT_TRUE(down->failed()) << down->debugString();
  runUntil(
      io, [&] { return !c->healthy(); }, 1000ms);
  EXPECT_FALSE(c->healthy());
  EXPECT_EQ(c->stats().disconnects.load(), 1u);

  ASSERT_TRUE(srv.restart());
  ASSERT_TRUE(runUntil(
      io, [&] { return c->healthy(); }, 3000ms))
      << c->lastError();
  auto again = runCo(io, c->cmd("GET", "k"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->isNil()) << "fresh server, no persistence";
  EXPECT_EQ(c->stats().connects.load(), 2u);
}

TEST(RedisConnection, CommandTimeoutMarksTheConnectionBroken) {
  LLMUX_REQUIRE_REDIS();
  RedisServer srv;
  ASSERT_TRUE(srv.start());
  net::io_context io;
  auto cfg = configFor(srv);
  cfg.commandTimeout = 150ms;
  cfg.connectTimeout = 150ms;
  auto c = connected(io, cfg);
  ASSERT_TRUE(c->healthy());
  int readyHooks = 0;
  c->onReady([&] { ++readyHooks; });

  srv.pause();  // SIGSTOP: the socket stays open, nothing answers
  std::optional<Reply> a, b;
  net::co_spawn(io, c->cmd("PING"), [&](std::exception_ptr, Reply r) { a = std::move(r); });
  net::co_spawn(io, c->cmd("PING"), [&](std::exception_ptr, Reply r) { b = std::move(r); });
  const auto t0 = std::chrono::steady_clock::now();
  runUntil(
      io, [&] { return a && b; }, 2000ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->failed());
  EXPECT_TRUE(b->failed());
  EXPECT_NE(a->str.find("timeout"), std::string::npos) << a->str;
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 1000ms);
  EXPECT_FALSE(c->healthy());
  EXPECT_EQ(c->stats().timeouts.load(), 1u) << "one stuck connection, counted once";

  // While paused, reconnects get a TCP connection (the kernel's backlog) but no handshake reply.
  runUntil(
      io, [&] { return c->stats().connectFailures.load() >= 1; }, 2000ms);
  EXPECT_GE(c->stats().connectFailures.load(), 1u);
  EXPECT_FALSE(c->healthy());
  auto fast = runCo(io, c->cmd("PING"));
  ASSERT_TRUE(fast);
  EXPECT_TRUE(fast->failed());

  srv.resume();
  ASSERT_TRUE(runUntil(
      io, [&] { return c->healthy() && readyHooks == 1; }, 3000ms))
      << c->lastError();
  auto ok = runCo(io, c->cmd("PING"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->str, "PONG");
}

TEST(RedisConnection, AuthAndSelect) {
  LLMUX_REQUIRE_REDIS();
  RedisServer srv;
  ASSERT_TRUE(srv.start({"--requirepass", "s3cret"}));
  net::io_context io;
  {
    auto cfg = configFor(srv);
    cfg.password = "s3cret";
    cfg.db = 3;
    auto c = connected(io, cfg);
    ASSERT_TRUE(c->healthy()) << c->lastError();
    ASSERT_TRUE(runCo(io, c->cmd("SET", "where", "db3"))->ok());
    EXPECT_EQ(srv.query({"GET", "where"}, "s3cret"), "(nil)") << "db 0 untouched";
    EXPECT_EQ(srv.query({"DBSIZE"}, "s3cret"), "0");
  }
  {
    auto cfg = configFor(srv);
    cfg.username = "default";  // ACL form
    cfg.password = "s3cret";
    auto c = connected(io, cfg);
    EXPECT_TRUE(c->healthy()) << c->lastError();
  }
  {
    auto cfg = configFor(srv);
    cfg.password = "wrong";
    auto c = RedisConnection::create(io.get_executor(), cfg);
    c->start();
    runUntil(
        io, [&] { return c->stats().connectFailures.load() >= 1; }, 2000ms);
    EXPECT_FALSE(c->healthy());
    EXPECT_NE(c->lastError().find("handshake failed"), std::string::npos) << c->lastError();
  }
  {
    auto c = RedisConnection::create(io.get_executor(), configFor(srv));  // no password
    c->start();
    runUntil(
        io, [&] { return c->stats().connectFailures.load() >= 1; }, 2000ms);
    EXPECT_FALSE(c->healthy());
    EXPECT_NE(c->lastError().find("NOAUTH"), std::string::npos) << c->lastError();
  }
}

TEST(RedisConnection, StopFailsPendingAndResolvesNames) {
  LLMUX_REQUIRE_REDIS();
  RedisServer srv;
  ASSERT_TRUE(srv.start());
  net::io_context io;
  auto cfg = configFor(srv);
  cfg.host = "localhost";  // through the asynchronous resolver
  auto c = connected(io, cfg);
  ASSERT_TRUE(c->healthy()) << c->lastError();
  std::optional<Reply> r;
  net::co_spawn(io, c->cmd("BLPOP", "never", "5"), [&](std::exception_ptr, Reply x) { r = x; });
  io.poll();  // the command is queued
  c->stop();
  runUntil(
      io, [&] { return r.has_value(); }, 1000ms);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->failed());
  EXPECT_FALSE(c->healthy());
  // Destroying a connection with commands in flight is safe as well.
  auto d = connected(io, configFor(srv));
  std::optional<Reply> r2;
  net::co_spawn(io, d->cmd("BLPOP", "never", "5"), [&](std::exception_ptr, Reply x) { r2 = x; });
  io.poll();
  d.reset();
  runUntil(
      io, [&] { return r2.has_value(); }, 6000ms);
  ASSERT_TRUE(r2);
}

}  // namespace
}  // namespace llmux::kv
