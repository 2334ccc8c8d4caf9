// `tune --check-config`: asks the admin's Apache what it loads and whether it accepts
// the proposal. Runs the given control program (apache2ctl on Debian, or the apache2
// binary with its environment) as `CTL -f CONFIG -t -D DUMP_INCLUDES` to list the
// configuration files, reads the rule ids they declare (so a proposal never reuses
// one), then `CTL -f CONFIG -t -c "Include FILE"` for the configtest itself. `-c`
// reads the directive after the configuration, so the file is checked in the server
// context after the CRS: duplicate ids and syntax do not depend on the order (the
// integration test includes it before the CRS and replays traffic). When the
// configuration already includes FILE, it is tested as it is. Blocks on the processes.
#pragma once

#include "util/result.h"

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

struct ProcessOutput {
    int status = -1;    // exit status; -1: killed or not run
    std::string output; // stdout and stderr together
};

// Runs argv[0] (searched in PATH) with argv, stdin from /dev/null; fails when it cannot
// be started.
[[nodiscard]] Result<ProcessOutput> run_process(const std::vector<std::string>& argv);

// The files of `apache2 -t -D DUMP_INCLUDES` output ("  (12) /etc/apache2/x.conf").
[[nodiscard]] std::vector<std::string> included_files(std::string_view dump);

// The rule ids a configuration text declares (`id:123`, `id:'123'`, `id:"123"`, any
// case), comments skipped.
[[nodiscard]] std::set<long> rule_ids_in(std::string_view text);

struct ConfigCheck {
    bool ok = false;
    bool already_included = false;
    std::vector<std::string> command; // the configtest's argv
    std::string output;
};

// The ids loaded by `config` (all its included files but `skip_file`), and whether
// `skip_file` is among them.
[[nodiscard]] Result<std::set<long>> loaded_rule_ids(const std::string& ctl,
                                                     const std::string& config,
                                                     const std::string& skip_file,
                                                     bool& includes_skip_file);

// The configtest with `file` included (unless `already_included`).
[[nodiscard]] Result<ConfigCheck> check_config(const std::string& ctl, const std::string& config,
                                               const std::string& file, bool already_included);

} // namespace mso
