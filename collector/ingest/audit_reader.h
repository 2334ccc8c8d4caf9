// The streaming audit-log reader: bytes in (chunks of any size, or a file descriptor),
// entries and errors out, memory bounded by the largest entry allowed. Reads every
// dialect, even mixed in one stream, deciding line by line: a Native A separator starts
// a Native entry (v2 or v3, which runs to the Z separator with the same boundary); a line
// starting with '{' is a JSON entry (v2 or v3, told by its keys); blank lines between
// entries are skipped (Serial writes one after each Z). Anything else, an entry cut
// short (a new A line or the end of input before its Z), an entry larger than the bound
// and an entry its parser rejects are reported as AuditErrors with their byte offsets
// and skipped; reading goes on with the next entry.
//
// Cost: one copy of the bytes into a reused buffer, one pass to find lines; no allocation
// per byte (strings of an entry reuse their capacity). No hash of the entry's bytes: an
// FNV-1a over them, read by nothing, was 40 % of the importer's CPU (docs/BENCHMARKS.md).
#pragma once

#include "ingest/audit_entry.h"
#include "ingest/json_entry.h"
#include "ingest/native_entry.h"
#include "util/result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mso {

struct AuditReaderOptions {
    std::size_t max_entry_bytes = 16 * 1024 * 1024; // larger entries are skipped
    int utc_offset_minutes = 0;                     // zone of v3 JSON time stamps
};

// Receives what the reader finds; the entry is valid only during the call.
class AuditSink {
public:
    virtual ~AuditSink() = default;
    virtual void entry(const AuditEntry& entry) = 0;
    virtual void error(const AuditError& error) = 0;
};

// The dialect of the first entry in `head` (the first bytes of a file), or unknown.
[[nodiscard]] AuditFormat detect_format(std::string_view head) noexcept;

// Not thread-safe; one reader per input. Never blocks except in read_fd().
class AuditReader {
public:
    explicit AuditReader(AuditReaderOptions options = {});

    // Reads `chunk`, calling `sink` for each complete entry or error found so far.
    void feed(std::string_view chunk, AuditSink& sink);
    // End of input: reports what is left (a cut entry, trailing garbage).
    void finish(AuditSink& sink);
    // Feeds everything readable from `fd` through a bounded buffer, then finish(). Fails
    // only on a read error (what was read before is reported).
    [[nodiscard]] Result<void> read_fd(int fd, AuditSink& sink);

    [[nodiscard]] std::uint64_t bytes_read() const noexcept { return m_base + m_buf.size(); }

private:
    enum class State { outside, native, skipping };

    void process_line(std::size_t begin, std::size_t end, AuditSink& sink);
    void begin_native(std::size_t begin, const NativeSeparator& separator);
    void end_native(std::size_t end, AuditSink& sink);
    void skip_oversized(std::size_t end, AuditSink& sink);
    void parse_json(std::size_t begin, std::size_t end, AuditSink& sink);
    void stray(std::size_t begin, std::size_t end, std::string_view reason);
    void flush_stray(AuditSink& sink);
    void report(std::uint64_t offset, std::uint64_t size, std::string message, AuditSink& sink);

    AuditReaderOptions m_options;
    JsonEntryParser m_json;
    AuditEntry m_entry;
    std::string m_scratch;
    std::string m_buf; // unprocessed bytes; m_buf[0] is at input offset m_base
    std::uint64_t m_base = 0;
    std::size_t m_scan = 0; // lines before this position of m_buf are processed
    State m_state = State::outside;
    std::size_t m_entry_begin = 0;               // in m_buf, while State::native
    std::string m_boundary;                      // of the Native entry being read
    AuditFormat m_flavor = AuditFormat::unknown; // its separator style (v2 or v3)
    bool m_drop_line = false;                    // dropping the rest of an over-long line
    // Bytes skipped outside entries (garbage, an oversized entry's rest), reported as one
    // error when the next entry starts or at the end.
    std::uint64_t m_stray_begin = 0;
    std::uint64_t m_stray_end = 0;
    bool m_has_stray = false;
    std::string_view m_stray_reason;
};

} // namespace mso
