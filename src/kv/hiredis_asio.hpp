#pragma once
// Runs a hiredis async context on a boost::asio executor. hiredis says when it wants to read or
// write (addRead/delRead/addWrite/delWrite hooks); the adapter turns that interest into
// async_wait on a posix::stream_descriptor wrapping hiredis' socket and calls
// redisAsyncHandleRead/Write when the socket is ready. Everything runs on the executor's single
// thread, so there are no locks; the executor must not be run by several threads at once.
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string_view>

struct redisAsyncContext;

namespace llmux::kv {

// Attaches `ac` (fresh from redisAsyncConnect, nothing attached yet). `onGone` runs once, when
// hiredis frees the context (connect failure, disconnect, redisAsyncFree), from inside hiredis:
// it must not call hiredis. `error` is hiredis' error text ("" when none). Returns false (nothing
// attached) when the socket cannot be registered.
bool attachAsio(redisAsyncContext* ac, const boost::asio::any_io_executor& ex,
                std::function<void(std::string_view error)> onGone);

}  // namespace llmux::kv
