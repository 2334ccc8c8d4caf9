// One import connection (import_session.h).
#include "daemon/import_session.h"

#include "protocol/import_line.h"
#include "protocol/query.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <utility>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t k_max_detail_bytes = 200;

} // namespace

struct ImportSession::Pending {
    std::uint64_t synced = 0;
    std::uint64_t malformed = 0;
    std::uint64_t too_old = 0;
    json malformed_lines = json::array();
    bool end = false;
};

ImportSession::ImportSession(StoreWriter& writer, std::string source, ImportCounters& counters,
                             Post post, Deliver deliver)
    : m_writer(writer),
      m_producer(writer.new_producer()),
      m_source(std::move(source)),
      m_counters(counters),
      m_post(std::move(post)),
      m_deliver(std::move(deliver))
{
    ++m_counters.connections;
}

ImportSession::State ImportSession::consume(std::string& input)
{
    if (m_state == State::ended) {
        input.clear();
        return m_state;
    }
    m_state = State::reading;
    std::size_t start = 0;
    while (m_state == State::reading) {
        if (m_in_flight >= k_max_syncs_in_flight) {
            m_state = State::waiting_syncs;
            break;
        }
        const std::size_t newline = input.find('\n', start);
        if (newline == std::string::npos) {
            break;
        }
        std::string_view line(input.data() + start, newline - start);
        if (m_dropping) {
            m_dropping = false; // the end of a line already counted as too long
        } else {
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            const ImportLineKind kind = line.size() > k_max_import_line_bytes
                                            ? ImportLineKind::event
                                            : import_line_kind(line);
            if (kind == ImportLineKind::event && line.size() <= k_max_import_line_bytes &&
                !m_writer.bulk_room()) {
                m_state = State::waiting_room; // this line is taken again later
                break;
            }
            take_line(line);
        }
        start = newline + 1;
        ++m_line;
    }
    if (m_state == State::ended) {
        input.clear();
        return m_state;
    }
    input.erase(0, start);
    if (m_dropping) {
        input.clear();
    } else if (input.find('\n') == std::string::npos && input.size() > k_max_import_line_bytes) {
        malformed(reason_name(DecodeError::too_large),
                  "a line longer than " + std::to_string(k_max_import_line_bytes) + " bytes");
        input.clear();
        m_dropping = true;
    }
    return m_state;
}

void ImportSession::take_line(std::string_view line)
{
    if (line.size() > k_max_import_line_bytes) {
        malformed(reason_name(DecodeError::too_large),
                  "a line longer than " + std::to_string(k_max_import_line_bytes) + " bytes");
        return;
    }
    switch (import_line_kind(line)) {
    case ImportLineKind::sync: sync(false); return;
    case ImportLineKind::end:
        sync(true);
        m_state = State::ended;
        return;
    case ImportLineKind::bad_command:
        malformed("bad_command", "only sync and end are commands in an import");
        return;
    case ImportLineKind::event: break;
    }
    auto decoded = decode_import_line(line);
    if (auto* failure = std::get_if<DecodeFailure>(&decoded)) {
        malformed(reason_name(failure->reason), std::move(failure->detail));
        return;
    }
    auto& imported = std::get<ImportedEvent>(decoded);
    ++m_events;
    ++m_counters.events;
    if (m_writer.too_old(imported.event.time_us)) {
        // Stored, it would go at the writer's next prune step: reported instead.
        ++m_too_old;
        ++m_counters.too_old;
        return;
    }
    StoredEvent stored;
    stored.event = std::move(imported.event);
    stored.engine_mode = imported.engine_mode;
    stored.source = m_source;
    const OfferResult r =
        m_writer.offer(std::move(stored), Offer{m_producer, Dedup::request, /*bulk=*/true});
    if (r == OfferResult::refused) {
        ++m_counters.lost; // the writer stopped: it will take nothing more
    }
    // no_room cannot happen: bulk_room() was checked on this thread, and only the loop
    // thread offers.
}

void ImportSession::malformed(std::string_view reason, std::string detail)
{
    ++m_malformed;
    ++m_counters.malformed;
    if (m_listed < k_max_listed_malformed) {
        if (detail.size() > k_max_detail_bytes) {
            detail.resize(k_max_detail_bytes);
            detail += "...";
        }
        json entry;
        entry[import_key::k_line] = m_line;
        entry[import_key::k_reason] = std::string(reason);
        entry["detail"] = std::move(detail);
        m_malformed_lines += (m_malformed_lines.empty() ? "" : ",") + dump_line(entry);
        ++m_listed;
    }
}

void ImportSession::sync(bool end)
{
    auto pending = std::make_shared<Pending>();
    pending->synced = m_events;
    pending->malformed = std::exchange(m_malformed, 0);
    pending->too_old = std::exchange(m_too_old, 0);
    pending->malformed_lines =
        json::parse("[" + std::exchange(m_malformed_lines, std::string()) + "]", nullptr, false);
    pending->end = end;
    m_listed = 0;
    ++m_in_flight;
    ImportCounters* counters = &m_counters;
    const std::int64_t history_days = std::max<std::int64_t>(0, m_writer.max_age_days());
    auto answer = [counters, deliver = m_deliver, pending, history_days](const MarkerResult& r,
                                                                         bool stored) {
        counters->inserted += r.inserted;
        counters->duplicates += r.duplicates;
        counters->lost += r.lost;
        json a;
        a["ok"] = stored;
        if (!stored) {
            a["error"] = "the history store is stopping: events after the previous sync may "
                         "not be stored";
        }
        a[import_key::k_synced] = pending->synced;
        a[import_key::k_inserted] = r.inserted;
        a[import_key::k_duplicates] = r.duplicates;
        a[import_key::k_lost] = r.lost;
        a[import_key::k_too_old] = pending->too_old;
        a[import_key::k_history_days] = history_days;
        a[import_key::k_malformed] = pending->malformed;
        a[import_key::k_malformed_lines] = pending->malformed_lines;
        if (pending->end) {
            a["end"] = true;
        }
        deliver(dump_line(a), pending->end);
    };
    const bool queued =
        m_writer.offer_marker(m_producer, [post = m_post, answer](const MarkerResult& r) {
            post([answer, r] { answer(r, true); });
        });
    if (!queued) {
        answer(MarkerResult{}, false);
    }
}

void ImportSession::answered() noexcept
{
    if (m_in_flight > 0) {
        --m_in_flight;
    }
    if (m_state == State::waiting_syncs && m_in_flight < k_max_syncs_in_flight) {
        m_state = State::reading;
    }
}

} // namespace mso
