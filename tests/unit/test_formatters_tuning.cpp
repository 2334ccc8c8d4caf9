// The text views of tune and readiness (cli/formatters_tuning.cpp): the numbers an admin
// reads are there, every group is listed, and attacker-controlled strings (paths,
// targets, reasons) come out escaped for the terminal.
#include "cli/formatters.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

json tune_answer()
{
    return json::parse(R"({"vhost":"cms.example","events":13,"since":"S","until":"U",
      "engine":"detection_only","crs_version":"4","paranoia_level":1,
      "groups":[{"rule":"941160","target":"ARGS:body","path":"/node/add","method":"POST",
                 "label":"likely_false_positive","requests":12,"clients":12,"decisive":12,
                 "reasons":["12 distinct clients sent it"]},
                {"rule":"942100","target":"ARGS:\u001b[2Jq","path":"/x\u001b]0;pwned\u0007",
                 "method":"GET","label":"likely_attack","requests":1,"clients":1,
                 "decisive":1,"reasons":["1 distinct client \u001b[31m"]}],
      "exclusions":[{"rule":"941160","target":"ARGS:body","match":"exact","path":"/node/add",
                     "method":"POST\u001b[2J","requests":12,"clients":12,"removes_blocks":12,"why":"one path"}],
      "skipped":[{"group":1,"rule":"942100","target":"T","path":"/p","reason":"unsafe"}],
      "what_if":{"would_block":13,"would_block_after":1,"clients":13,"clients_after":1,
                 "attacks":1,"attacks_caught":1,"attacks_caught_after":1,
                 "benign_blocked":12,"benign_blocked_after":0,
                 "inbound_ladder":[{"threshold":5,"before":13,"after":1}],
                 "paranoia_levels":[{"level":1,"before":13,"after":1},
                                    {"level":2,"before":17,"after":4}],
                 "caveats":["chained rules"]},
      "verdict":"ready_after_exclusions","verdict_now":"not_ready",
      "reasons":["12 requests ..."]})");
}

TEST(FormattersTuning, TuneShowsGroupsProposalsWhatIfAndVerdict)
{
    const std::string text = format_tune(tune_answer());
    for (const char* expected :
         {"likely_false_positive", "likely_attack", "/node/add", "13 -> 1", "12 -> 0",
          "chained rules", "Verdict: ready_after_exclusions",
          "as it is now, without the exclusions: not_ready", "blocking paranoia level",
          "exact POST", "17", "Skipped", "unsafe", "12 distinct clients sent it"}) {
        EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
    }
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_EQ(text.find('\a'), std::string::npos) << text;
}

TEST(FormattersTuning, ReadinessPerVhost)
{
    const json answer = json::parse(R"({"vhosts":[{"vhost":"a.example","engine":"on",
      "verdict":"not_ready","verdict_now":"not_ready","reasons":["3 requests \u001b[2J"],
      "requests":10,
      "would_block":5,"would_block_after":3,"explained":2,"clients":4,"clients_after":2,
      "attacks_caught":1,"attacks_caught_after":1,"exclusions":1,"false_positive_blocks":4,
      "days":[{"day":"2026-12-01","would_block":5,"would_block_after":3,
               "by_rule":{"942100":5},"by_group":{"942 SQLi":5}}]}]})");
    const std::string text = format_readiness(answer);
    for (const char* expected :
         {"a.example", "not_ready", "as it is now, without the exclusions: not_ready", "5 -> 3",
          "2026-12-01", "942100:5", "942 SQLi:5",
          "look like false positives (real users blocked): 4"}) {
        EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
    }
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_NE(format_readiness(json::parse(R"({"vhosts":[]})")).find("no vhost"),
              std::string::npos);
}

} // namespace
} // namespace mso
