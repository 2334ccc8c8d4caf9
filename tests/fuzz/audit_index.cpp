// Fuzz target: the Concurrent index line parser (collector/ingest/concurrent_index.h).
// A parsed line's path must stay inside the storage directory.
#include "fuzz_check.h"
#include "ingest/concurrent_index.h"

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto line = mso::parse_index_line(input);
    if (!line) {
        MSO_FUZZ_CHECK(!line.error().empty());
        return 0;
    }
    MSO_FUZZ_CHECK(!line->path.empty() && line->path.front() == '/');
    MSO_FUZZ_CHECK((line->path + "/").find("/../") == std::string::npos);
    MSO_FUZZ_CHECK(line->request_line.size() <= input.size());
    MSO_FUZZ_CHECK(!line->unique_id.empty());
    return 0;
}
