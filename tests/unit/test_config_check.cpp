// tune --check-config's pieces (cli/config_check.h): the DUMP_INCLUDES list, the rule
// ids of configuration text, and running a program (a fake apachectl script).
#include "cli/config_check.h"

#include "temp_dir.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>

namespace mso {
namespace {

TEST(ConfigCheck, IncludedFiles)
{
    const std::string dump = "Included configuration files:\n"
                             "  (*) /etc/apache2/apache2.conf\n"
                             "    (146) /etc/apache2/mods-enabled/security2.conf\n"
                             "      (3) /usr/share/modsecurity-crs/rules/REQUEST-942.conf\n"
                             "Syntax OK\n";
    const auto files = included_files(dump);
    ASSERT_EQ(files.size(), 3U);
    EXPECT_EQ(files[0], "/etc/apache2/apache2.conf");
    EXPECT_EQ(files[2], "/usr/share/modsecurity-crs/rules/REQUEST-942.conf");
}

TEST(ConfigCheck, RuleIds)
{
    const std::string conf = "SecRule ARGS \"@rx x\" \"id:942100,phase:2,deny\"\n"
                             "SecAction \"id:'900000', pass\"\n"
                             "  SecRule X \"y\" \"ID:12345,nolog\"\n"
                             "# SecRule ARGS \"@rx x\" \"id:55555\"\n"
                             "SecRule REQUEST_FILENAME \"@streq /paid:1\" \"t:none\"\n"
                             "SecRule ARGS \"z\" \"msg:'x',id:10001\"\n";
    EXPECT_EQ(rule_ids_in(conf), (std::set<long>{942100, 900000, 12345, 10001}));
}

TEST(ConfigCheck, RunsAProgramAndTheConfigtest)
{
    test_support::TempDir dir("mso-cc");
    const std::string ctl = dir.path() + "/fakectl";
    const std::string conf = dir.path() + "/a.conf";
    {
        std::ofstream(conf) << "SecRule ARGS \"x\" \"id:10000,pass\"\n";
        // Echoes its arguments; lists a.conf for DUMP_INCLUDES; fails when told to
        // include a file containing FAIL.
        std::ofstream(ctl)
            << "#!/bin/sh\n"
               "for a in \"$@\"; do echo \"arg:$a\"; done\n"
               "case \"$*\" in *DUMP_INCLUDES*) echo \"  (*) "
            << conf
            << "\"; exit 0;; esac\n"
               "for a in \"$@\"; do case \"$a\" in Include*) f=${a#Include };"
               " f=${f#\\\"}; f=${f%\\\"}; grep -q FAIL \"$f\" && exit 1;; esac; done\n"
               "echo 'Syntax OK'\n";
    }
    chmod(ctl.c_str(), 0755);
    bool included = true;
    auto ids = loaded_rule_ids(ctl, conf, dir.path() + "/out.conf", included);
    ASSERT_TRUE(ids) << ids.error();
    EXPECT_EQ(*ids, (std::set<long>{10000}));
    EXPECT_FALSE(included);
    auto self = loaded_rule_ids(ctl, conf, conf, included);
    ASSERT_TRUE(self);
    EXPECT_TRUE(self->empty());
    EXPECT_TRUE(included);

    const std::string out = dir.path() + "/out.conf";
    std::ofstream(out) << "# fine\n";
    auto good = check_config(ctl, conf, out, false);
    ASSERT_TRUE(good) << good.error();
    EXPECT_TRUE(good->ok) << good->output;
    EXPECT_NE(good->output.find("arg:-c"), std::string::npos);
    std::ofstream(out) << "FAIL\n";
    auto bad = check_config(ctl, conf, out, false);
    ASSERT_TRUE(bad);
    EXPECT_FALSE(bad->ok);
    auto as_is = check_config(ctl, conf, out, true);
    ASSERT_TRUE(as_is);
    EXPECT_EQ(as_is->output.find("arg:-c"), std::string::npos);

    EXPECT_FALSE(run_process({dir.path() + "/no-such-program"}));
}

} // namespace
} // namespace mso
