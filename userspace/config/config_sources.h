// SPDX-License-Identifier: Apache-2.0
// What a configuration was made of; a capture keeps it so that a replay
// rebuilds the same configuration.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace aster {

struct ConfigSources {
  std::vector<std::string> argv;  // without argv[0]
  std::vector<std::pair<std::string, std::string>> env;
  std::string config_path, config_text;
};

}  // namespace aster
