#include "event.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

RequestEvent with_rules(std::initializer_list<const char*> ids, bool intercepted)
{
    RequestEvent e;
    e.intercepted = intercepted;
    for (const char* id : ids) {
        Finding f;
        f.id = id;
        e.findings.push_back(f);
    }
    return e;
}

TEST(InferredEngineMode, InterceptedIsOnABlockingRuleWithoutInterceptionIsDetectionOnly)
{
    EXPECT_EQ(inferred_engine_mode(with_rules({"942100", "949110"}, true)), EngineMode::on);
    EXPECT_EQ(inferred_engine_mode(with_rules({}, true)), EngineMode::on);
    for (const char* blocking : {"949110", "949111", "959100", "959101"}) {
        SCOPED_TRACE(blocking);
        EXPECT_EQ(inferred_engine_mode(with_rules({"942100", blocking, "980130"}, false)),
                  EngineMode::detection_only);
    }
    // Below the threshold, or a rule that only reports: nothing tells.
    EXPECT_EQ(inferred_engine_mode(with_rules({"920350"}, false)), EngineMode::unknown);
    EXPECT_EQ(inferred_engine_mode(with_rules({"980130", "980170", "9491100"}, false)),
              EngineMode::unknown);
    EXPECT_EQ(inferred_engine_mode(RequestEvent{}), EngineMode::unknown);
}

} // namespace
} // namespace mso
