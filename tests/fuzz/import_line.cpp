// Fuzz target: the lines of an import stream (protocol/import_line.h), as the daemon
// reads them from an import connection. For every line: import_line_kind() and
// parse_import_start() decide without crashing; a line that decodes as an event,
// encoded again as the CLI would, still decodes, within the line limit, with the same
// engine mode, time, unique id, client, method and number of findings plus dropped ones.
#include "fuzz_check.h"
#include "protocol/import_line.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string line;
    for (std::size_t start = 0; start < input.size();) {
        std::size_t end = input.find('\n', start);
        if (end == std::string_view::npos)
            end = input.size();
        const std::string_view text = input.substr(start, end - start);
        start = end + 1;

        (void)mso::import_line_kind(text);
        if (const auto source = mso::parse_import_start(text); source && *source) {
            MSO_FUZZ_CHECK(!(*source)->empty() && (*source)->size() <= mso::k_max_source_bytes);
        }
        auto decoded = mso::decode_import_line(text);
        const auto* first = std::get_if<mso::ImportedEvent>(&decoded);
        if (first == nullptr)
            continue;
        mso::encode_import_line(first->event, first->event.vhost, first->engine_mode, line);
        MSO_FUZZ_CHECK(!line.empty() && line.size() <= mso::k_max_import_line_bytes);
        MSO_FUZZ_CHECK(mso::import_line_kind(line) == mso::ImportLineKind::event);
        auto again = mso::decode_import_line(line);
        const auto* second = std::get_if<mso::ImportedEvent>(&again);
        MSO_FUZZ_CHECK(second != nullptr);
        MSO_FUZZ_CHECK(second->engine_mode == first->engine_mode);
        MSO_FUZZ_CHECK(second->event.time_us == first->event.time_us);
        MSO_FUZZ_CHECK(second->event.status == first->event.status);
        MSO_FUZZ_CHECK(second->event.intercepted == first->event.intercepted);
        MSO_FUZZ_CHECK(second->event.findings.size() + second->event.findings_dropped >=
                       first->event.findings.size() + first->event.findings_dropped);
    }
    return 0;
}
