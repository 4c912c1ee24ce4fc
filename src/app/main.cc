// llmux entry point: parse the command line and hand over to app::serve / app::checkConfig.
#include <CLI/CLI.hpp>

#include "app/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"llmux: a fast, self-hosted AI gateway (OpenAI-compatible, LiteLLM config.yaml)"};
  app.set_version_flag("--version,-V", "llmux " LLMUX_VERSION);
  app.require_subcommand(1);

  llmux::app::ServeArgs serveArgs;
  auto* serve = app.add_subcommand("serve", "Start the gateway");
  serve->add_option("--config,-c", serveArgs.configPath, "LiteLLM-style config.yaml")->required();
  serve->add_option("--host", serveArgs.host, "Listen address (overrides llmux_settings.host)");
  serve->add_option("--port,-p", serveArgs.port, "Listen port (overrides llmux_settings.port)")
      ->check(CLI::Range(1, 65535));
  serve->add_option("--workers,-w", serveArgs.workers, "I/O threads; 0 = one per core")
      ->check(CLI::Range(0, 1024));

  std::string checkPath;
  auto* check = app.add_subcommand("check-config", "Validate a config file and list every problem");
  check->add_option("file", checkPath, "config.yaml to check")->required();

  CLI11_PARSE(app, argc, argv);
  if (serve->parsed()) return llmux::app::serve(serveArgs);
  if (check->parsed()) return llmux::app::checkConfig(checkPath);
  return 2;
}
