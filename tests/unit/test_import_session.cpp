// daemon/import_session.cpp: an import connection's lines become stored events; a sync
// is answered after what came before it is committed, with the counts since the
// previous answer and the malformed lines by number; events older than the store keeps
// are counted, not stored; the session waits (and keeps its
// input) when the writer's share for imports is full or too many syncs wait; an
// over-long line is dropped, counted, and the rest goes on.
#include "daemon/import_session.h"

#include "protocol/import_line.h"
#include "store_test_events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <deque>
#include <mutex>
#include <thread>

namespace mso {
namespace {

using json = nlohmann::json;
using test::full_event;
using test::TempDir;

// The loop thread of a test: posted tasks wait here until run().
struct Loop {
    std::mutex mutex;
    std::deque<std::function<void()>> tasks;
    std::vector<json> answers;
    bool ended = false;
    ImportSession* session = nullptr;

    ImportSession::Post post()
    {
        return [this](std::function<void()> task) {
            const std::lock_guard lock(mutex);
            tasks.push_back(std::move(task));
        };
    }
    ImportSession::Deliver deliver()
    {
        return [this](std::string line, bool end) {
            answers.push_back(json::parse(line));
            ended |= end;
            if (session != nullptr) {
                session->answered();
            }
        };
    }
    // Runs posted tasks until `n` answers came (up to 60 s).
    bool run_until(std::size_t n)
    {
        for (int i = 0; i < 6000 && answers.size() < n; ++i) {
            std::deque<std::function<void()>> ready;
            {
                const std::lock_guard lock(mutex);
                ready.swap(tasks);
            }
            for (auto& task : ready) {
                task();
            }
            if (answers.size() < n) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        return answers.size() >= n;
    }
};

std::string line_of(int n)
{
    const StoredEvent e = full_event(n);
    std::string line;
    encode_import_line(e.event, e.event.vhost, EngineMode::on, line);
    return line + "\n";
}

HistoryStore open_store(const TempDir& dir)
{
    auto store = HistoryStore::open(dir.db());
    EXPECT_TRUE(store) << store.error();
    return std::move(*store);
}

StoreWriterOptions fast_writer()
{
    StoreWriterOptions o;
    o.max_age_days = 0;
    o.batch_interval = std::chrono::milliseconds(10);
    return o;
}

TEST(ImportSession, ASyncIsAnsweredWithWhatWasStoredAndWhatWasMalformed)
{
    TempDir dir;
    ImportCounters counters;
    Loop loop;
    // Declared after the loop and the counters: its last markers post to them.
    StoreWriter writer(open_store(dir), fast_writer());
    ImportSession session(writer, "import:a.log", counters, loop.post(), loop.deliver());
    loop.session = &session;
    EXPECT_EQ(counters.connections, 1U);
    // Lines 2.. (the import command was line 1): 3 events, garbage, a bad command, the
    // first event again (a duplicate), a sync.
    std::string input = line_of(1) + line_of(2) + line_of(3) + "not json\n" +
                        R"({"cmd":"stats"})"
                        "\n" +
                        line_of(1) +
                        R"({"cmd":"sync"})"
                        "\n";
    EXPECT_EQ(session.consume(input), ImportSession::State::reading);
    EXPECT_TRUE(input.empty());
    ASSERT_TRUE(loop.run_until(1));
    const json& a = loop.answers[0];
    EXPECT_EQ(a["ok"], true);
    EXPECT_EQ(a["synced"], 4);
    EXPECT_EQ(a["inserted"], 3);
    EXPECT_EQ(a["duplicates"], 1);
    EXPECT_EQ(a["lost"], 0);
    EXPECT_EQ(a["malformed"], 2);
    ASSERT_EQ(a["malformed_lines"].size(), 2U);
    EXPECT_EQ(a["malformed_lines"][0]["line"], 5);
    EXPECT_EQ(a["malformed_lines"][0]["reason"], "not_json");
    EXPECT_EQ(a["malformed_lines"][1]["line"], 6);
    EXPECT_EQ(a["malformed_lines"][1]["reason"], "bad_command");
    // The next answer counts from here; end closes.
    input = line_of(4) + std::string(R"({"cmd":"end"})") + "\n" + line_of(5);
    EXPECT_EQ(session.consume(input), ImportSession::State::ended);
    ASSERT_TRUE(loop.run_until(2));
    EXPECT_EQ(loop.answers[1]["synced"], 5);
    EXPECT_EQ(loop.answers[1]["inserted"], 1);
    EXPECT_EQ(loop.answers[1]["malformed"], 0);
    EXPECT_EQ(loop.answers[1]["end"], true);
    EXPECT_TRUE(loop.ended);
    EXPECT_EQ(counters.events, 5U);
    EXPECT_EQ(counters.inserted, 4U);
    EXPECT_EQ(counters.duplicates, 1U);
    EXPECT_EQ(counters.malformed, 2U);
    // Stored under the import's source with the engine mode of the line.
    HistoryOptions ro;
    ro.read_only = true;
    auto reader = HistoryStore::open(dir.db(), ro);
    ASSERT_TRUE(reader);
    auto found = reader->find(full_event(2).event.unique_id);
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->source, "import:a.log");
    EXPECT_EQ((*found)->engine_mode, EngineMode::on);
    EXPECT_EQ((*found)->event.time_us, full_event(2).event.time_us);
}

TEST(ImportSession, EventsOlderThanTheStoreKeepsAreCountedNotStored)
{
    TempDir dir;
    ImportCounters counters;
    Loop loop;
    StoreWriterOptions o = fast_writer();
    // Two days kept; "now" is event 3's time plus two days: events 1 and 2 are older, 3
    // is the oldest kept (retention deletes what is before it), 4 is newer.
    o.max_age_days = 2;
    o.now_us = [] { return full_event(3).event.time_us + 2 * k_us_per_day; };
    StoreWriter writer(open_store(dir), o);
    ImportSession session(writer, "import:old.log", counters, loop.post(), loop.deliver());
    loop.session = &session;
    std::string input =
        line_of(1) + line_of(2) + line_of(3) + line_of(4) + std::string(R"({"cmd":"end"})") + "\n";
    EXPECT_EQ(session.consume(input), ImportSession::State::ended);
    ASSERT_TRUE(loop.run_until(1));
    const json& a = loop.answers[0];
    EXPECT_EQ(a["synced"], 4);
    EXPECT_EQ(a["too_old"], 2);
    EXPECT_EQ(a["history_days"], 2);
    EXPECT_EQ(a["inserted"], 2);
    EXPECT_EQ(a["malformed"], 0);
    EXPECT_EQ(counters.events, 4U);
    EXPECT_EQ(counters.too_old, 2U);
    EXPECT_EQ(counters.inserted, 2U);
    writer.stop();
    HistoryOptions ro;
    ro.read_only = true;
    auto reader = HistoryStore::open(dir.db(), ro);
    ASSERT_TRUE(reader);
    for (const int n : {1, 2, 3, 4}) {
        auto found = reader->find(full_event(n).event.unique_id);
        ASSERT_TRUE(found) << found.error();
        EXPECT_EQ(found->has_value(), n >= 3) << n;
    }
}

TEST(ImportSession, WaitsWithItsInputWhenTheImportShareIsFull)
{
    TempDir dir;
    StoreWriterOptions o = fast_writer();
    o.max_queue = 4; // imports: 2
    o.batch_interval = std::chrono::hours(1);
    o.batch_events = 1000;
    ImportCounters counters;
    Loop loop;
    // Declared after the loop and the counters: its last markers post to them.
    StoreWriter writer(open_store(dir), o);
    ImportSession session(writer, "import:a.log", counters, loop.post(), loop.deliver());
    loop.session = &session;
    std::string input;
    for (int i = 0; i < 5; ++i) {
        input += line_of(i);
    }
    EXPECT_EQ(session.consume(input), ImportSession::State::waiting_room);
    EXPECT_EQ(input, line_of(2) + line_of(3) + line_of(4)); // kept, not lost
    EXPECT_EQ(counters.events, 2U);
    writer.flush();
    EXPECT_EQ(session.consume(input), ImportSession::State::waiting_room);
    writer.flush();
    input += R"({"cmd":"sync"})"
             "\n";
    EXPECT_EQ(session.consume(input), ImportSession::State::reading);
    EXPECT_TRUE(input.empty());
    writer.flush();
    ASSERT_TRUE(loop.run_until(1));
    EXPECT_EQ(loop.answers[0]["inserted"], 5);
}

TEST(ImportSession, WaitsWhenTooManySyncsAreUnanswered)
{
    TempDir dir;
    ImportCounters counters;
    Loop loop; // tasks are not run: no answer arrives until run_until
    // Declared after the loop and the counters: its last markers post to them.
    StoreWriter writer(open_store(dir), fast_writer());
    ImportSession session(writer, "import:a.log", counters, loop.post(), loop.deliver());
    loop.session = &session;
    std::string input;
    for (std::size_t i = 0; i < k_max_syncs_in_flight + 3; ++i) {
        input += R"({"cmd":"sync"})"
                 "\n";
    }
    EXPECT_EQ(session.consume(input), ImportSession::State::waiting_syncs);
    EXPECT_EQ(input.size(), 3 * (k_import_sync_line.size() + 1));
    ASSERT_TRUE(loop.run_until(1)); // one answered: room for one more
    EXPECT_EQ(session.state(), ImportSession::State::reading);
    ASSERT_TRUE(loop.run_until(k_max_syncs_in_flight));
    EXPECT_EQ(session.consume(input), ImportSession::State::reading);
    EXPECT_TRUE(input.empty());
}

TEST(ImportSession, AnOverLongLineIsDroppedAndCountedAndTheRestIsTaken)
{
    TempDir dir;
    ImportCounters counters;
    Loop loop;
    // Declared after the loop and the counters: its last markers post to them.
    StoreWriter writer(open_store(dir), fast_writer());
    ImportSession session(writer, "import:a.log", counters, loop.post(), loop.deliver());
    loop.session = &session;
    // Arrives in pieces: the long line is dropped before its newline is seen.
    std::string input = line_of(1) + std::string(k_max_import_line_bytes + 10, 'x');
    EXPECT_EQ(session.consume(input), ImportSession::State::reading);
    EXPECT_TRUE(input.empty());
    input = std::string(100, 'y') + "\n" + line_of(2) +
            R"({"cmd":"sync"})"
            "\n";
    EXPECT_EQ(session.consume(input), ImportSession::State::reading);
    ASSERT_TRUE(loop.run_until(1));
    EXPECT_EQ(loop.answers[0]["inserted"], 2);
    EXPECT_EQ(loop.answers[0]["malformed"], 1);
    EXPECT_EQ(loop.answers[0]["malformed_lines"][0]["line"], 3);
    EXPECT_EQ(loop.answers[0]["malformed_lines"][0]["reason"], "too_large");
    // A complete over-long line too.
    input = std::string(k_max_import_line_bytes + 1, 'z') + "\n" +
            R"({"cmd":"sync"})"
            "\n";
    EXPECT_EQ(session.consume(input), ImportSession::State::reading);
    ASSERT_TRUE(loop.run_until(2));
    EXPECT_EQ(loop.answers[1]["malformed_lines"][0]["line"], 6);
}

} // namespace
} // namespace mso
