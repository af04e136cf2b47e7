// net::Request and net::CloseReaper against real UCX workers: two workers of
// one process, the second connected to the first by its address. A
// rendezvous send cannot finish before the receiver answers it, and the
// close of its endpoint (which flushes it) does not finish inside the call:
// both stay in flight until the workers progress. (An idle endpoint closes
// at once, with no request to keep.)

#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <vector>

#include "benchfs/core/clock.hpp"
#include "benchfs/net/ucx.hpp"

using namespace benchfs;
using namespace benchfs::net;

namespace {

constexpr unsigned kAmId = 7;
constexpr size_t kBig = 4 << 20;  // far past any eager threshold

void no_error(void*, ucp_ep_h, ucs_status_t) {}

/// Receiver: takes rendezvous data into `buf` with a callback that frees its
/// request (the callback-owned case); eager data is copied.
struct Receiver {
  std::vector<std::byte> buf = std::vector<std::byte>(kBig);
  Worker* worker = nullptr;
  bool received = false;
  size_t length = 0;
  ucs_status_t status = UCS_INPROGRESS;

  static void recv_done(void* request, ucs_status_t status, size_t length, void* user_data) {
    auto* self = static_cast<Receiver*>(user_data);
    Request(request).reset();
    self->status = status;
    self->length = length;
    self->received = true;
  }

  static ucs_status_t on_am(void* arg, const void*, size_t, void* data, size_t len,
                            const ucp_am_recv_param_t* param) {
    auto* self = static_cast<Receiver*>(arg);
    if ((param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) == 0) {
      self->status = UCS_OK;
      self->length = len;
      self->received = true;
      return UCS_OK;
    }
    Request r = self->worker->am_recv_data(data, self->buf.data(), len, &recv_done, self);
    if (r.empty()) {
      self->status = UCS_OK;
      self->length = len;
      self->received = true;
    } else if (r.failed()) {
      self->status = r.status();
      self->received = true;
    } else {
      (void)r.release();  // recv_done frees it
    }
    return UCS_INPROGRESS;
  }
};

class UcxPair : public ::testing::Test {
 protected:
  void SetUp() override {
    rx_.worker = &server_;
    server_.set_am_handler(kAmId, &Receiver::on_am, &rx_);
    auto ep = Endpoint::connect_to_worker(client_, server_.address(), &no_error, nullptr);
    ASSERT_TRUE(ep.ok()) << ep.status().to_string();
    ep_ = std::move(*ep);
  }

  void TearDown() override {
    // An endpoint still open closes here, and nothing is left in flight
    // when the workers go.
    CloseReaper reaper;
    reaper.close(ep_);
    EXPECT_TRUE(progress_until([&] { return reaper.reap() > 0 || reaper.empty(); }));
    settle();
  }

  /// Progresses both workers until done() (false after 10 s).
  bool progress_until(const std::function<bool()>& done) {
    const uint64_t deadline = now_ns() + 10'000'000'000ULL;
    while (!done()) {
      if (now_ns() >= deadline) return false;
      client_.progress();
      server_.progress();
    }
    return true;
  }

  /// Progresses both workers until neither has anything left to do.
  void settle() {
    for (int idle = 0; idle < 100;) idle = client_.progress() + server_.progress() == 0 ? idle + 1 : 0;
  }

  Request send_big() {
    return ep_.am_send(kAmId, nullptr, 0, data_.data(), data_.size(), UCP_AM_SEND_FLAG_RNDV);
  }

  Context ctx_;
  Worker server_{ctx_, UCS_THREAD_MODE_SINGLE, "ucx-test-server"};
  Worker client_{ctx_, UCS_THREAD_MODE_SINGLE, "ucx-test-client"};
  Receiver rx_;
  std::vector<std::byte> data_ = std::vector<std::byte>(kBig, std::byte{0x5a});
  Endpoint ep_;  // after the workers: closed before they go
};

}  // namespace

TEST(Request, EmptyAndFailedHoldNoRequest) {
  Request none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.failed());
  EXPECT_FALSE(none.has_request());
  EXPECT_FALSE(none.in_progress());
  EXPECT_EQ(none.status(), UCS_OK);

  Request err(UCS_STATUS_PTR(UCS_ERR_NO_MEMORY));
  EXPECT_FALSE(err.empty());
  EXPECT_TRUE(err.failed());
  EXPECT_FALSE(err.has_request());
  EXPECT_FALSE(err.in_progress());
  EXPECT_EQ(err.status(), UCS_ERR_NO_MEMORY);
  Request moved(std::move(err));
  EXPECT_TRUE(moved.failed());
  EXPECT_TRUE(err.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  moved.reset();             // nothing to free
  EXPECT_TRUE(moved.empty());
}

TEST_F(UcxPair, SendRequestIsHeldUntilCompleteThenFreed) {
  Request send = send_big();
  ASSERT_TRUE(send.has_request()) << ucs_status_string(send.status());
  EXPECT_TRUE(send.in_progress());  // the receiver has not answered yet
  // Moved, the request goes with it; the source holds nothing to free.
  Request held = std::move(send);
  EXPECT_TRUE(send.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  ASSERT_TRUE(progress_until([&] { return rx_.received && !held.in_progress(); }));
  EXPECT_EQ(held.status(), UCS_OK);
  EXPECT_EQ(rx_.status, UCS_OK);
  EXPECT_EQ(rx_.length, kBig);
  EXPECT_EQ(rx_.buf, data_);
  held.reset();
  EXPECT_TRUE(held.empty());
}

TEST_F(UcxPair, ReaperReportsTheIdOfEachFinishedClose) {
  Request send = send_big();
  ASSERT_TRUE(send.has_request());
  CloseReaper reaper;
  // The close flushes the send: in flight until the receiver has the data.
  ASSERT_TRUE(reaper.close(ep_, 42));
  EXPECT_FALSE(ep_);
  EXPECT_FALSE(reaper.close(ep_, 43));  // nothing left to close
  EXPECT_EQ(reaper.size(), 1u);
  std::vector<uint64_t> closed;
  EXPECT_EQ(reaper.reap([&](uint64_t id) { closed.push_back(id); }), 0u);
  EXPECT_TRUE(closed.empty());
  ASSERT_TRUE(progress_until([&] {
    reaper.reap([&](uint64_t id) { closed.push_back(id); });
    return reaper.empty();
  }));
  EXPECT_EQ(closed, std::vector<uint64_t>{42});
  EXPECT_EQ(reaper.reap(), 0u);
  // The send outlives its endpoint's close (UCX finishes it all the same).
  ASSERT_TRUE(progress_until([&] { return rx_.received && !send.in_progress(); }));
  EXPECT_EQ(send.status(), UCS_OK);
}

TEST_F(UcxPair, AbandonAllFreesClosesInFlight) {
  Request send = send_big();
  ASSERT_TRUE(send.has_request());
  CloseReaper reaper;
  ASSERT_TRUE(reaper.close(ep_, 1));
  EXPECT_EQ(reaper.abandon_all(), 1u);
  EXPECT_TRUE(reaper.empty());
  EXPECT_EQ(reaper.abandon_all(), 0u);
  // UCX goes on with the abandoned close: let it finish before the workers go.
  ASSERT_TRUE(progress_until([&] { return rx_.received && !send.in_progress(); }));
  settle();
}
