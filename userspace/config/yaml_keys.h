// SPDX-License-Identifier: Apache-2.0
// The check both configuration parsers (config.cc, metrics_options.cc) run
// on every mapping: a typo in a key is an error that names the key and what
// is allowed there, never a setting silently ignored.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

namespace aster {

// "" when every key of `map` (a mapping) is in `known`; otherwise the error
// for the first one that is not, spelled `key_prefix + key`.
inline std::string unknown_key_error(const YAML::Node& map, const std::set<std::string>& known,
                                     const std::string& key_prefix) {
  for (const auto& kv : map) {
    std::string k = kv.first.as<std::string>();
    if (known.count(k)) continue;
    std::string allowed;
    for (const auto& a : known) allowed += (allowed.empty() ? "" : ", ") + a;
    return "unknown key '" + key_prefix + k + "' (known here: " + allowed + ")";
  }
  return "";
}

}  // namespace aster
