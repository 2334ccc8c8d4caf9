// The `event` answer's view of one request (event_detail.h).
#include "state/event_detail.h"

#include "state/event_ring.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// CRS's blocking evaluation (REQUEST-949, RESPONSE-959) and correlation (RESPONSE-980)
// rules: they compare or log the score, they do not add to it.
bool reports_the_score(std::string_view id) noexcept
{
    return id.size() == 6 &&
           (id.starts_with("949") || id.starts_with("959") || id.starts_with("980"));
}

} // namespace

int score_contribution(const Finding& finding) noexcept
{
    if (finding.engine || reports_the_score(finding.id)) {
        return 0;
    }
    constexpr std::pair<std::string_view, int> k_points[] = {
        {"CRITICAL", 5}, {"ERROR", 4}, {"WARNING", 3}, {"NOTICE", 2}};
    for (const auto& [severity, points] : k_points) {
        if (iequals(finding.severity, severity)) {
            return points;
        }
    }
    return 0;
}

json event_with_origin_json(const RequestEvent& e, std::string_view source, EngineMode engine,
                            std::string_view verdict)
{
    json out = event_json(e);
    out["source"] = std::string(source);
    out["engine"] = std::string(engine_mode_name(engine));
    out["verdict"] = std::string(verdict);
    return out;
}

json event_detail_json(const RequestEvent& e, std::string_view source, EngineMode engine,
                       std::string_view verdict)
{
    json out = event_with_origin_json(e, source, engine, verdict);
    int sum = 0;
    json& rules = out["rules"];
    for (std::size_t i = 0; i < e.findings.size() && i < rules.size(); ++i) {
        const int points = score_contribution(e.findings[i]);
        rules[i]["score"] = points;
        sum += points;
    }
    out["score_sum"] = sum;
    return out;
}

} // namespace mso
