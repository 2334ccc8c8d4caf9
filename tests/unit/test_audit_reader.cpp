// The streaming reader on real audit logs (tests/data/audit, captured by capture.py from
// Apache + mod_security2 and nginx + libmodsecurity with CRS): every entry is read with
// the rule ids the server's error log lists for its unique id, and hostile variants of
// those files (cut, corrupted, garbage, oversized) are reported with offsets while the
// rest is still read.
#include "ingest/audit_reader.h"
#include "ingest/concurrent_index.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace mso {
namespace {

const std::string k_dir = std::string(MSO_TEST_DATA_DIR) + "/audit/";

std::string slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Collect : AuditSink {
    std::vector<AuditEntry> entries;
    std::vector<AuditError> errors;
    void entry(const AuditEntry& e) override { entries.push_back(e); }
    void error(const AuditError& e) override { errors.push_back(e); }
};

Collect read_all(std::string_view bytes, std::size_t chunk = 4096, AuditReaderOptions o = {})
{
    Collect c;
    AuditReader reader(o);
    for (std::size_t i = 0; i < bytes.size(); i += chunk)
        reader.feed(bytes.substr(i, chunk), c);
    reader.finish(c);
    return c;
}

// The entries of a log: one file, or for a Concurrent log every file its index names.
Collect read_log(const std::string& name)
{
    const std::string path = k_dir + name;
    if (!std::filesystem::is_directory(path))
        return read_all(slurp(path));
    Collect all;
    std::istringstream index(slurp(path + "/index"));
    for (std::string line; std::getline(index, line);) {
        const auto parsed = parse_index_line(line);
        EXPECT_TRUE(parsed) << parsed.error() << ": " << line;
        if (!parsed)
            continue;
        Collect one = read_all(slurp(path + "/storage" + parsed->path));
        EXPECT_EQ(one.entries.size(), 1U) << parsed->path;
        EXPECT_TRUE(one.errors.empty()) << parsed->path;
        for (AuditEntry& e : one.entries) {
            EXPECT_EQ(e.event.unique_id, parsed->unique_id);
            EXPECT_EQ(e.event.status, parsed->status);
            // The index line's time is taken when the entry is written, A's at the request.
            EXPECT_NEAR(static_cast<double>(e.event.time_us), static_cast<double>(parsed->time_us),
                        1e6);
            // The index counts the file, with the newline that ends a JSON entry.
            EXPECT_EQ(std::filesystem::file_size(path + "/storage" + parsed->path), parsed->size);
            EXPECT_LE(e.size, parsed->size);
            all.entries.push_back(std::move(e));
        }
    }
    return all;
}

nlohmann::json expected()
{
    return nlohmann::json::parse(slurp(k_dir + "expected.json"));
}

struct LogCase {
    const char* name;
    AuditFormat format;
    // Unique ids in the error log without an audit entry: nginx runs a transaction for a
    // request that it then redirects internally (`try_files` to index.html, the SQLi GET
    // on detect.test); that first transaction logs its alerts but writes no audit entry.
    std::size_t unlogged;
};

const LogCase k_logs[] = {
    {"v2_native_serial.log", AuditFormat::v2_native, 0},
    {"v2_native_serial_kc_newyork.log", AuditFormat::v2_native, 0},
    {"v2_native_concurrent", AuditFormat::v2_native, 0},
    {"v2_json_serial.log", AuditFormat::v2_json, 0},
    {"v2_json_serial_k.log", AuditFormat::v2_json, 0},
    {"v2_json_concurrent", AuditFormat::v2_json, 0},
    {"v3_json.log", AuditFormat::v3_json, 1},
    {"v3_native.log", AuditFormat::v3_native, 1},
};

TEST(AuditReader, RealLogsGiveTheErrorLogsRuleIdsPerUniqueId)
{
    const nlohmann::json want = expected();
    for (const LogCase& c : k_logs) {
        SCOPED_TRACE(c.name);
        const Collect got = read_log(c.name);
        EXPECT_TRUE(got.errors.empty()) << got.errors.front().message;
        const nlohmann::json& per_uid = want.at(c.name);
        ASSERT_EQ(got.entries.size() + c.unlogged, per_uid.size());
        for (const AuditEntry& e : got.entries) {
            SCOPED_TRACE(e.event.unique_id);
            EXPECT_EQ(e.format, c.format);
            ASSERT_TRUE(per_uid.contains(e.event.unique_id));
            const nlohmann::json& w = per_uid.at(e.event.unique_id);
            std::vector<std::string> ids;
            for (const Finding& f : e.event.findings)
                ids.push_back(f.id);
            EXPECT_EQ(ids, w.at("rules").get<std::vector<std::string>>());
            EXPECT_EQ(e.event.vhost, w.at("host").get<std::string>());
            const std::string engine = w.at("engine").get<std::string>();
            // v3 Native records no engine mode: known only from an "Access denied".
            if (c.format != AuditFormat::v3_native || e.event.intercepted) {
                EXPECT_EQ(engine_mode_name(e.engine), engine);
            }
            if (w.contains("status")) {
                EXPECT_EQ(e.event.status, w.at("status").get<int>());
            }
            // Every request to the blocking vhost with a finding was denied with a 403.
            EXPECT_EQ(e.event.intercepted, engine == "on" && e.event.status == 403);
            if (e.event.intercepted) {
                EXPECT_EQ(e.event.phase, 2);
            }
            EXPECT_FALSE(e.event.client.empty());
            EXPECT_FALSE(e.event.method.empty());
            EXPECT_EQ(e.event.path.front(), '/');
            EXPECT_GT(e.event.time_us, 1700000000000000);
            ASSERT_TRUE(e.event.scores.has_value()); // every request reached 949110
            EXPECT_GE(e.event.scores->inbound, 5);
        }
    }
}

TEST(AuditReader, DetectsTheFormatFromTheFirstBytes)
{
    for (const LogCase& c : k_logs) {
        const std::string path = k_dir + c.name;
        if (std::filesystem::is_directory(path))
            continue;
        EXPECT_EQ(detect_format(slurp(path).substr(0, 4096)), c.format) << c.name;
    }
    EXPECT_EQ(detect_format("hello\nworld\n"), AuditFormat::unknown);
    EXPECT_EQ(detect_format(""), AuditFormat::unknown);
}

TEST(AuditReader, ChunkSizeDoesNotMatter)
{
    for (const LogCase& c : k_logs) {
        const std::string path = k_dir + c.name;
        if (std::filesystem::is_directory(path))
            continue;
        const std::string bytes = slurp(path);
        const Collect whole = read_all(bytes, bytes.size());
        for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{65536}}) {
            const Collect parts = read_all(bytes, chunk);
            ASSERT_EQ(parts.entries.size(), whole.entries.size()) << c.name << " " << chunk;
            for (std::size_t i = 0; i < parts.entries.size(); ++i) {
                EXPECT_EQ(parts.entries[i].event, whole.entries[i].event);
                EXPECT_EQ(parts.entries[i].offset, whole.entries[i].offset);
                EXPECT_EQ(parts.entries[i].size, whole.entries[i].size);
            }
        }
    }
}

TEST(AuditReader, OffsetsPointAtTheEntries)
{
    const std::string bytes = slurp(k_dir + "v2_native_serial.log");
    for (const AuditEntry& e : read_all(bytes).entries) {
        EXPECT_EQ(bytes.substr(e.offset, 2), "--");
        EXPECT_EQ(bytes.substr(e.offset + 11, 3), "A--");
        const std::string_view raw = std::string_view(bytes).substr(e.offset, e.size);
        EXPECT_TRUE(raw.ends_with("-Z--\n"))
            << raw.substr(raw.size() - std::min<std::size_t>(raw.size(), 20));
    }
    const std::string json = slurp(k_dir + "v3_json.log");
    for (const AuditEntry& e : read_all(json).entries)
        EXPECT_EQ(json.substr(e.offset, 16), "{\"transaction\":{");
}

// Hostile variants of a real log: what is damaged is reported at its offset and skipped,
// every other entry is still read.
struct Damage {
    const char* name;
    const char* file;
    // Returns the damaged bytes and the offset where the error must be reported.
    std::pair<std::string, std::uint64_t> (*make)(const std::string& bytes,
                                                  const std::vector<AuditEntry>& entries);
    std::size_t entries_lost;
};

const Damage k_damage[] = {
    {"cut in the middle of the last entry", "v2_native_serial.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         const AuditEntry& last = es.back();
         return std::pair{b.substr(0, last.offset + last.size / 2), last.offset};
     },
     1},
    {"cut in the middle of a JSON line", "v2_json_serial.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         const AuditEntry& last = es.back();
         return std::pair{b.substr(0, last.offset + last.size / 2), last.offset};
     },
     1},
    {"the second entry's Z separator corrupted", "v2_native_serial.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         std::string d = b;
         const std::size_t z = es[1].offset + es[1].size - 4; // "Z--\n"
         d[z] = 'Q';
         return std::pair{d, es[1].offset};
     },
     1},
    {"the second entry's A line corrupted", "v3_native.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         std::string d = b;
         d[es[1].offset + 18] = 'x'; // "[02/Dec/..." becomes "[x2/Dec/..."
         return std::pair{d, es[1].offset};
     },
     1},
    {"garbage between two entries", "v2_native_serial.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         std::string d = b;
         d.insert(es[2].offset, "garbage\n\x01\x02\xff\n--deadbeef-H--\n");
         return std::pair{d, es[2].offset};
     },
     0},
    {"garbage between two JSON lines", "v3_json.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         std::string d = b;
         d.insert(es[2].offset, "{\"transaction\":[1,2\n");
         return std::pair{d, es[2].offset};
     },
     0},
    {"a huge part", "v2_native_serial.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         std::string d = b;
         const std::size_t at = d.find("-E--\n", es[3].offset) + 5;
         d.insert(at, std::string(3 * 1024 * 1024, 'x') + "\n");
         return std::pair{d, es[3].offset};
     },
     1},
    {"a huge line", "v2_json_serial.log",
     [](const std::string& b, const std::vector<AuditEntry>& es) {
         std::string d = b;
         d.insert(es[3].offset, std::string(3 * 1024 * 1024, '{') + "\n");
         return std::pair{d, es[3].offset};
     },
     0},
};

TEST(AuditReader, DamageIsReportedAtItsOffsetAndTheRestIsRead)
{
    AuditReaderOptions small;
    small.max_entry_bytes = 1024 * 1024;
    for (const Damage& d : k_damage) {
        SCOPED_TRACE(d.name);
        const std::string bytes = slurp(k_dir + d.file);
        const Collect clean = read_all(bytes);
        ASSERT_GE(clean.entries.size(), 4U);
        const auto [damaged, offset] = d.make(bytes, clean.entries);
        for (const std::size_t chunk : {std::size_t{4096}, std::size_t{333333}}) {
            const Collect got = read_all(damaged, chunk, small);
            ASSERT_EQ(got.errors.size(), 1U);
            EXPECT_EQ(got.errors[0].offset, offset) << got.errors[0].message;
            EXPECT_FALSE(got.errors[0].message.empty());
            EXPECT_EQ(got.entries.size(), clean.entries.size() - d.entries_lost);
            for (const AuditEntry& e : got.entries) {
                const auto same = std::find_if(
                    clean.entries.begin(), clean.entries.end(),
                    [&](const AuditEntry& c) { return c.event.unique_id == e.event.unique_id; });
                ASSERT_NE(same, clean.entries.end());
                EXPECT_EQ(same->event, e.event);
            }
        }
    }
}

TEST(AuditReader, ReadsAFileDescriptor)
{
    const std::string path = k_dir + "v2_native_serial_kc_newyork.log";
    FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    Collect c;
    AuditReader reader;
    ASSERT_TRUE(reader.read_fd(fileno(f), c));
    std::fclose(f);
    EXPECT_EQ(c.entries.size(), 3U);
    EXPECT_TRUE(c.errors.empty());
}

} // namespace
} // namespace mso
