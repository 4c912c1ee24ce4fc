#pragma once
// Turns one config deployment into its runtime form at startup: the provider spec, the upstream
// origin, pre-rendered request line and headers, credentials. Throws std::runtime_error for a
// deployment that cannot be served (startup only).
#include <string>
#include <vector>

#include "config/config.hpp"
#include "engine/gateway.hpp"

namespace llmux::engine {

void setupDeployment(const config::Config& cfg, const config::Deployment& d, DeploymentRt& rt,
                     std::vector<std::string>& warnings);

// Reads [profile] from an AWS shared credentials file (INI): aws_access_key_id,
// aws_secret_access_key, aws_session_token. False when the file or profile is missing.
bool readAwsProfile(const std::string& path, const std::string& profile, std::string& keyId,
                    std::string& secret, std::string& token);

}  // namespace llmux::engine
