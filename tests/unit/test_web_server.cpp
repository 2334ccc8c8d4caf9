// The dashboard's HTTP side (daemon/web_server.h) against a real client on loopback,
// with the loop replaced by handlers the test controls: routes, methods, headers,
// the API's translation and status codes, the tail stream.
#include "daemon/web_server.h"

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

constexpr const char k_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// A tune answer with one proposal (the daemon's shape, docs/protocol.md).
constexpr const char k_tune_answer[] =
    R"({"ok":true,"vhost":"shop.example","crs_version":"4","paranoia_level":1,)"
    R"("since":"2026-11-25T00:00:00Z","until":"2026-12-02T00:00:00Z","events":40,)"
    R"("what_if":{"would_block":40,"would_block_after":0,"attacks_caught":0,)"
    R"("attacks_caught_after":0,"caveats":[]},"exclusions":[{"key":)"
    R"("shop.example 942100 ARGS:q exact /search","host":"shop.example","rule":"942100",)"
    R"("target":"ARGS:q","match":"exact","path":"/search","method":"","why":"one path",)"
    R"("hits":40,"requests":40,"clients":20,"first_seen":"2026-12-01T10:00:00Z",)"
    R"("last_seen":"2026-12-02T10:00:00Z","examples":["Zx1"],"removes_blocks":40,)"
    R"("removes_blocks_clients":20}]})";

class WebServerTest : public ::testing::Test {
protected:
    void start(std::chrono::milliseconds timeout = 30s,
               std::function<bool(const std::string&)> authorize = {})
    {
        mso::WebHandlers handlers;
        handlers.authorize = std::move(authorize);
        handlers.ask = [this](std::string line, std::function<void(std::string)> reply) {
            {
                std::lock_guard lock(m_mutex);
                m_lines.push_back(line);
            }
            if (line.find("\"cmd\":\"stats\"") != std::string::npos) {
                reply(R"({"ok":true,"vhosts":[]})");
            } else if (line.find("\"cmd\":\"tune\"") != std::string::npos &&
                       line.find("\"vhost\":\"shop.example\"") != std::string::npos) {
                reply(k_tune_answer);
            } else if (line.find("\"cmd\":\"health\"") != std::string::npos) {
                return; // never answers
            } else {
                reply(R"({"ok":false,"error":"no"})");
            }
        };
        handlers.subscribe = [this](mso::EventFilter filter, std::shared_ptr<mso::TailSink> sink) {
            std::lock_guard lock(m_mutex);
            m_filter = std::move(filter);
            m_sink = std::move(sink);
        };
        handlers.metrics = [] { return std::string("modsec_observe_up 1\n"); };
        m_server.emplace(std::move(handlers), timeout);
        ASSERT_TRUE(m_server->bind({"127.0.0.1", 0}));
        m_server->start();
        m_client.emplace("127.0.0.1", m_server->port());
        m_client->set_read_timeout(60, 0);
    }

    std::vector<std::string> lines()
    {
        std::lock_guard lock(m_mutex);
        return m_lines;
    }

    std::mutex m_mutex;
    std::vector<std::string> m_lines;
    std::optional<mso::EventFilter> m_filter;
    std::shared_ptr<mso::TailSink> m_sink;
    std::optional<mso::WebServer> m_server;
    std::optional<httplib::Client> m_client;
};

TEST_F(WebServerTest, ServesTheEmbeddedPageWithStrictHeaders)
{
    start();
    for (const char* path : {"/", "/index.html"}) {
        const auto res = m_client->Get(path);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
        EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
        EXPECT_NE(res->body.find(R"(<script type="module" src="/app.js">)"), std::string::npos);
        EXPECT_EQ(res->get_header_value("Content-Security-Policy"), k_csp);
        EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
        EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer");
        EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache");
    }
    const auto js = m_client->Get("/vendor/uPlot.iife.min.js");
    ASSERT_TRUE(js);
    EXPECT_EQ(js->status, 200);
    EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_NE(js->body.find("uPlot"), std::string::npos);
    const auto missing = m_client->Get("/nope.js");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(missing->get_header_value("Content-Security-Policy"), k_csp);
}

TEST_F(WebServerTest, AuthorizeGuardsEveryPathWithABasicChallenge)
{
    std::vector<std::string> seen;
    std::mutex seen_mutex;
    start(30s, [&](const std::string& authorization) {
        std::lock_guard lock(seen_mutex);
        seen.push_back(authorization);
        return authorization == "Basic YWRtaW46c2VjcmV0"; // admin:secret
    });
    for (const char* path : {"/", "/api/stats", "/api/tail", "/metrics", "/app.js"}) {
        SCOPED_TRACE(path);
        const auto refused = m_client->Get(path);
        ASSERT_TRUE(refused);
        EXPECT_EQ(refused->status, 401);
        EXPECT_EQ(refused->get_header_value("WWW-Authenticate"),
                  R"(Basic realm="modsec-observe", charset="UTF-8")");
        EXPECT_EQ(refused->get_header_value("Content-Security-Policy"), k_csp);
        const auto wrong = m_client->Get(path, {{"Authorization", "Basic YWRtaW46d3Jvbmc="}});
        ASSERT_TRUE(wrong);
        EXPECT_EQ(wrong->status, 401);
    }
    // A refused POST is refused for want of credentials, before its method is looked at.
    const auto post = m_client->Post("/api/stats", "x", "text/plain");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 401);
    EXPECT_TRUE(lines().empty()); // nothing refused reached the loop

    const auto page = m_client->Get("/", {{"Authorization", "Basic YWRtaW46c2VjcmV0"}});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    const auto api = m_client->Get("/api/stats", {{"Authorization", "Basic YWRtaW46c2VjcmV0"}});
    ASSERT_TRUE(api);
    EXPECT_EQ(api->status, 200);
    EXPECT_EQ(lines().size(), 1U);
    std::lock_guard lock(seen_mutex);
    EXPECT_EQ(seen.front(), ""); // an absent header is handed over as ""
}

TEST_F(WebServerTest, RefusesEveryMethodButGetAndHead)
{
    start();
    EXPECT_EQ(m_client->Head("/")->status, 200);
    for (const auto& res :
         {m_client->Post("/api/stats", "x", "text/plain"), m_client->Put("/", "x", "text/plain"),
          m_client->Delete("/api/stats"), m_client->Options("/")}) {
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 405);
        EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
    }
    EXPECT_TRUE(lines().empty()); // nothing reached the loop
}

TEST_F(WebServerTest, AnswersTheApiThroughTheLoop)
{
    start();
    const auto res = m_client->Get("/api/stats?vhost=shop.example&window=1h");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "{\"ok\":true,\"vhosts\":[]}\n");
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
    ASSERT_EQ(lines().size(), 1U);
    EXPECT_EQ(lines()[0], R"({"cmd":"stats","vhost":"shop.example","window":3600})");

    const auto refused = m_client->Get("/api/events?rule=1");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_EQ(refused->body, "{\"ok\":false,\"error\":\"no\"}\n");

    const auto bad = m_client->Get("/api/events?limit=lots");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(bad->body.find("\\\"limit\\\" must be a non-negative integer"), std::string::npos);
    EXPECT_EQ(lines().size(), 2U); // the bad one never reached the loop

    const auto metrics = m_client->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->body, "modsec_observe_up 1\n");
}

TEST_F(WebServerTest, AnswersTheExclusionFileOfATuneAnswer)
{
    start();
    const auto res =
        m_client->Get("/api/tune_file?vhost=shop.example&window=7d&id_range=20000-20099");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(res->get_header_value("Content-Disposition"),
              R"(attachment; filename="modsec-observe-exclusions-shop.example.conf")");
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
    EXPECT_EQ(res->get_header_value("Content-Security-Policy"), k_csp);
    EXPECT_NE(res->body.find("SecRule SERVER_NAME \"@streq shop.example\" \\\n    \"id:20000,"),
              std::string::npos)
        << res->body;
    EXPECT_NE(res->body.find("ctl:ruleRemoveTargetById=942100;ARGS:q"), std::string::npos);
    EXPECT_NE(res->body.find("Rendered by the dashboard"), std::string::npos);
    ASSERT_EQ(lines().size(), 1U);
    // id_range is the endpoint's own: the loop is asked tune, as /api/tune would.
    EXPECT_EQ(lines()[0], R"({"cmd":"tune","vhost":"shop.example","window":604800})");

    // Without id_range: the CLI's default range.
    const auto plain = m_client->Get("/api/tune_file?vhost=shop.example");
    ASSERT_TRUE(plain);
    EXPECT_NE(plain->body.find("\"id:10000,"), std::string::npos);

    // The collector's error (here: any other vhost) is passed on as the API's errors are.
    const auto refused = m_client->Get("/api/tune_file?vhost=a%22%0D%0Ab");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_EQ(refused->body, "{\"ok\":false,\"error\":\"no\"}\n");
    EXPECT_EQ(refused->get_header_value("Content-Disposition"), "");

    const std::size_t asked = lines().size();
    for (const char* bad : {"/api/tune_file?vhost=shop.example&id_range=900000-900100",
                            "/api/tune_file?vhost=shop.example&id_range=1-2&id_range=3-4",
                            "/api/tune_file?vhost=shop.example&window=lots"}) {
        const auto res400 = m_client->Get(bad);
        ASSERT_TRUE(res400);
        EXPECT_EQ(res400->status, 400) << bad;
        EXPECT_EQ(res400->get_header_value("Content-Type"), "application/json") << bad;
    }
    const auto range = m_client->Get("/api/tune_file?vhost=shop.example&id_range=9-1");
    EXPECT_NE(range->body.find("id_range: expected FIRST-LAST"), std::string::npos) << range->body;
    EXPECT_EQ(lines().size(), asked); // none of them reached the loop
}

TEST_F(WebServerTest, AnAnswerThatNeverComesIsA503)
{
    start(200ms);
    const auto res = m_client->Get("/api/health");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
    EXPECT_NE(res->body.find("did not answer in time"), std::string::npos);
}

TEST_F(WebServerTest, StreamsTailAsServerSentEvents)
{
    start();
    const auto bad = m_client->Get("/api/tail?intercepted=maybe");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);

    std::string received;
    std::thread feeder([&] {
        for (int i = 0; i < 6000; ++i) {
            std::shared_ptr<mso::TailSink> sink;
            {
                std::lock_guard lock(m_mutex);
                sink = m_sink;
            }
            if (sink) {
                (void)sink->offer("{\"unique_id\":\"a\"}\n");
                (void)sink->offer("{\"unique_id\":\"b\"}\n");
                return;
            }
            std::this_thread::sleep_for(10ms);
        }
    });
    std::string content_type;
    const auto res = m_client->Get(
        "/api/tail?vhost=shop.example",
        [&](const httplib::Response& r) {
            content_type = r.get_header_value("Content-Type");
            return true;
        },
        [&](const char* data, std::size_t size) {
            received.append(data, size);
            return received.find("\"b\"") == std::string::npos; // stop after both
        });
    feeder.join();
    EXPECT_EQ(content_type, "text/event-stream");
    const auto a = received.find("data: {\"unique_id\":\"a\"}\n\n");
    const auto b = received.find("data: {\"unique_id\":\"b\"}");
    EXPECT_NE(a, std::string::npos) << received;
    EXPECT_NE(b, std::string::npos) << received;
    EXPECT_LT(a, b);
    std::lock_guard lock(m_mutex);
    ASSERT_TRUE(m_filter);
    EXPECT_EQ(m_filter->vhost, "shop.example");
}

TEST(IsLoopback, OnlyLoopbackAddresses)
{
    EXPECT_TRUE(mso::is_loopback({"127.0.0.1", 1}));
    EXPECT_TRUE(mso::is_loopback({"127.1.2.3", 1}));
    EXPECT_TRUE(mso::is_loopback({"::1", 1}));
    EXPECT_FALSE(mso::is_loopback({"0.0.0.0", 1}));
    EXPECT_FALSE(mso::is_loopback({"10.0.0.1", 1}));
    EXPECT_FALSE(mso::is_loopback({"::", 1}));
    EXPECT_FALSE(mso::is_loopback({"::ffff:10.0.0.1", 1}));
}

} // namespace
