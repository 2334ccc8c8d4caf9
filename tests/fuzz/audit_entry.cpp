// Fuzz target: one audit-log entry given straight to the Native and the JSON entry
// parsers (collector/ingest/native_entry.h, json_entry.h), as the reader would after
// splitting. Whatever they accept must carry a unique id and its own format.
#include "fuzz_check.h"
#include "ingest/json_entry.h"
#include "ingest/native_entry.h"

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    mso::AuditEntry entry;
    std::string scratch;
    if (mso::parse_native_entry(input, entry, scratch)) {
        MSO_FUZZ_CHECK(entry.format == mso::AuditFormat::v2_native ||
                       entry.format == mso::AuditFormat::v3_native);
        MSO_FUZZ_CHECK(!entry.event.unique_id.empty());
    }
    static mso::JsonEntryParser parser(1 << 20, -300);
    mso::reset_entry(entry);
    if (parser.parse(input, entry)) {
        MSO_FUZZ_CHECK(entry.format == mso::AuditFormat::v2_json ||
                       entry.format == mso::AuditFormat::v3_json);
        MSO_FUZZ_CHECK(!entry.event.unique_id.empty());
        MSO_FUZZ_CHECK(entry.event.time_us >= -86400LL * 1000000);
    }
    return 0;
}
