// Fuzz target: the streaming audit-log reader (collector/ingest/audit_reader.h) over any
// bytes, fed in chunks whose sizes come from the input, with a small entry bound. Every
// entry and error must lie inside the input, in increasing order; the same input in one
// chunk must give the same entries (offset, size, unique id) and errors.
#include "fuzz_check.h"
#include "ingest/audit_reader.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Record {
    std::uint64_t offset;
    std::uint64_t size;
    std::string unique_id;
    bool error;
    bool operator==(const Record&) const = default;
};

struct Check : mso::AuditSink {
    std::string_view input;
    std::vector<Record> seen;
    void entry(const mso::AuditEntry& e) override
    {
        MSO_FUZZ_CHECK(e.offset + e.size <= input.size());
        MSO_FUZZ_CHECK(!e.event.unique_id.empty());
        MSO_FUZZ_CHECK(e.event.findings.size() <= input.size());
        if (!seen.empty())
            MSO_FUZZ_CHECK(seen.back().offset + seen.back().size <= e.offset);
        seen.push_back({e.offset, e.size, e.event.unique_id, false});
    }
    void error(const mso::AuditError& e) override
    {
        MSO_FUZZ_CHECK(e.offset + e.size <= input.size());
        MSO_FUZZ_CHECK(!e.message.empty());
        if (!seen.empty())
            MSO_FUZZ_CHECK(seen.back().offset <= e.offset);
        seen.push_back({e.offset, e.size, {}, true});
    }
};

std::vector<Record> run(std::string_view input, std::size_t chunk)
{
    mso::AuditReaderOptions options;
    options.max_entry_bytes = 4096;
    mso::AuditReader reader(options);
    Check check;
    check.input = input;
    for (std::size_t i = 0; i < input.size(); i += chunk)
        reader.feed(input.substr(i, chunk), check);
    reader.finish(check);
    MSO_FUZZ_CHECK(reader.bytes_read() == 0); // finish() resets for the next input
    return check.seen;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t chunk = size == 0 ? 1 : 1 + data[0] % 97;
    const std::vector<Record> whole = run(input, size == 0 ? 1 : size);
    const std::vector<Record> parts = run(input, chunk);
    if (whole != parts) {
        for (const auto* list : {&whole, &parts}) {
            std::fprintf(stderr, "%s:\n", list == &whole ? "whole" : "in chunks");
            for (const Record& r : *list)
                std::fprintf(stderr, "  %s at %llu, %llu bytes\n", r.error ? "error" : "entry",
                             static_cast<unsigned long long>(r.offset),
                             static_cast<unsigned long long>(r.size));
        }
    }
    MSO_FUZZ_CHECK(whole == parts);
    (void)mso::detect_format(input);
    return 0;
}
