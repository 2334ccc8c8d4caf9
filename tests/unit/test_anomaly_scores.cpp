// CRS 3.3 and CRS 4 anomaly scores read from the snippet's environment variables.
#include "anomaly_scores.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>

namespace mso {
namespace {

struct EnvCase {
    std::map<std::string, std::string> env;
    bool present;
    int inbound, outbound, blocking_pl, detection_pl, threshold;
};

std::string_view lookup(void* ctx, const char* name) noexcept
{
    auto* env = static_cast<std::map<std::string, std::string>*>(ctx);
    auto it = env->find(name);
    return it == env->end() ? std::string_view() : std::string_view(it->second);
}

TEST(AnomalyScoresFromEnv, Crs3AndCrs4)
{
    const EnvCase cases[] = {
        {{}, false, 0, 0, 0, 0, 0},
        // CRS 4: thresholds, blocking PL 2, detection PL 3, blocking in/out, in PL1-4,
        // out PL1-4.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS4", "5,4,2,3,8,4,5,3,2,0,4,0,0,0"}}, true, 8, 4, 2, 3, 5},
        // CRS 3.3: thresholds, paranoia_level 1, executing 2, in PL1-4, out PL1-4;
        // totals are summed up to tx.paranoia_level.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS3", "5,4,1,2,5,3,0,0,4,7,0,0"}}, true, 5, 4, 1, 2, 5},
        // Detection level 1 (rules 99904 and 99905): the blocking level is left out (1),
        // and CRS 4's blocking totals too (the level-1 scores).
        {{{"MSO_CRS4", "5,4,,1,,,5,,,,4,,,"}}, true, 5, 4, 1, 1, 5},
        {{{"MSO_CRS4", "5,4,,1,,,0,,,,0,,,"}}, true, 0, 0, 1, 1, 5},
        {{{"MSO_CRS3", "5,4,,1,5,,,,4,,,"}}, true, 5, 4, 1, 1, 5},
        // An empty blocking total is summed up to the blocking level; an exported one,
        // even 0 (the evaluation that sums them did not run), is taken as it is.
        {{{"MSO_CRS4", "5,4,2,3,,,5,3,2,0,4,1,1,0"}}, true, 8, 5, 2, 3, 5},
        {{{"MSO_CRS4", "5,4,2,3,0,0,5,3,2,0,4,1,1,0"}}, true, 0, 0, 2, 3, 5},
        // Variables the CRS does not define expand to "": those fields are 0.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS3", "5,,1,,5,,,,,,,"}}, true, 5, 0, 1, 1, 5},
        // The snippet ran and nothing scored: all 0.
        {{{"MSO_SNIPPET", "1"}}, true, 0, 0, 0, 0, 0},
        // The snippet sets only the score variable where it exports scores.
        {{{"MSO_CRS4", "5,4,2,3,8,4,5,3,2,0,4,0,0,0"}}, true, 8, 4, 2, 3, 5},
        {{{"MSO_CRS3", "5,4,1,2,5,3,0,0,4,7,0,0"}}, true, 5, 4, 1, 2, 5},
        // Another variable of ours is not the snippet.
        {{{"MSO_OTHER", "1"}}, false, 0, 0, 0, 0, 0},
        // Garbage, or too few or too many fields, count as 0, never as a crash.
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS4", "x9,,1"}}, true, 0, 0, 1, 1, 0},
        {{{"MSO_SNIPPET", "1"}, {"MSO_CRS4", "5,4,1,1,9,0,9,0,0,0,0,0,0,0,77,88,99"}},
         true,
         9,
         0,
         1,
         1,
         5},
    };
    for (auto c : cases) {
        AnomalyScores s;
        EXPECT_EQ(scores_from_env(lookup, &c.env, s), c.present);
        EXPECT_EQ(s.inbound, c.inbound);
        EXPECT_EQ(s.outbound, c.outbound);
        EXPECT_EQ(s.blocking_pl, c.blocking_pl);
        EXPECT_EQ(s.detection_pl, c.detection_pl);
        EXPECT_EQ(s.inbound_threshold, c.threshold);
    }
}

} // namespace
} // namespace mso
