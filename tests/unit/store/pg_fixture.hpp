#pragma once
// A throwaway PostgreSQL server for tests: its own temp dir (see pgTempBase), a free loopback port,
// the unix socket in the temp dir, fsync off. PostgreSQL refuses to run as root, so when the
// tests run as root every server command goes through `runuser -u postgres --` (or `nobody`)
// on a dir chowned to that user.
//
// initdb takes one to four seconds; the cluster it makes is kept once per bindir and user in
// <base>/llmux-pg-template-* (built under a file lock, so parallel test processes share it) and
// copied for each server, since ctest runs every test in its own process.
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace llmux::store::testing {

// The directory holding initdb and pg_ctl: $LLMUX_PG_BINDIR, else the newest Debian install.
inline std::string pgBinDir() {
  namespace fs = std::filesystem;
  auto usable = [](const fs::path& d) {
    std::error_code ec;
    return fs::exists(d / "initdb", ec) && fs::exists(d / "pg_ctl", ec) &&
           fs::exists(d / "postgres", ec);
  };
  if (const char* e = std::getenv("LLMUX_PG_BINDIR"); e != nullptr && *e != '\0') {
    return usable(e) ? std::string(e) : std::string();
  }
  for (int v = 20; v >= 12; --v) {
    fs::path d = "/usr/lib/postgresql/" + std::to_string(v) + "/bin";
    if (usable(d)) return d.string();
  }
  return {};
}

// Where servers and the template live: $LLMUX_PG_TMPDIR, else /dev/shm (a cluster is ~40 MB of
// small files: copying it on tmpfs takes a tenth of the time it takes on disk), else /tmp.
inline std::string pgTempBase() {
  if (const char* e = std::getenv("LLMUX_PG_TMPDIR"); e != nullptr && *e != '\0') return e;
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return "/tmp";
}

// A port nobody listens on right now (the kernel's choice for a bind to port 0).
inline int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

class PgServer {
 public:
  PgServer() = default;
  ~PgServer() { destroy(); }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // Creates and starts the server; false with `why` (binaries missing, start failed).
  bool start(std::string& why) {
    if (running_) return true;
    bin_ = pgBinDir();
    if (bin_.empty()) {
      why = "PostgreSQL binaries (initdb, pg_ctl, postgres) not found; set LLMUX_PG_BINDIR";
      return false;
    }
    if (!pickUser(why) || !ensureTemplate(why)) return false;
    std::string tmpl = pgTempBase() + "/llmux-pg-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      why = "mkdtemp failed in " + pgTempBase();
      return false;
    }
    dir_ = tmpl;
    if (!chownToServer(dir_, why)) return false;
    if (std::system(("cp -a " + templateDir_ + "/data " + dir_ + "/data").c_str()) != 0) {
      why = "cannot copy the template cluster from " + templateDir_;
      return false;
    }
    for (int attempt = 0; attempt < 5 && !running_; ++attempt) {
      port_ = freeLoopbackPort();
      running_ = port_ != 0 && launch();
    }
    if (!running_) why = "postgres did not start; see " + dir_ + "/log";
    return running_;
  }

  // Fast shutdown (open sessions are terminated); the data dir stays for restart().
  bool stop() {
    if (!running_) return true;
    running_ = false;
    return std::system(asServer(bin_ + "/pg_ctl -D " + dir_ + "/data -m fast -w -t 60 stop" +
                                " >/dev/null 2>&1")
                           .c_str()) == 0;
  }

  // Starts the stopped server again on the same port and data.
  bool restart() {
    if (running_) return true;
    running_ = launch();
    return running_;
  }

  void destroy() {
    if (dir_.empty()) return;
    if (running_) {
      (void)std::system(
          asServer(bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop" + " >/dev/null 2>&1")
              .c_str());
      running_ = false;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }

  [[nodiscard]] bool running() const { return running_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url(std::string_view db = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + std::string(db);
  }
  // Who runs the server: "" (this user) or the account used through runuser.
  [[nodiscard]] const std::string& serverUser() const { return user_; }

 private:
  bool pickUser(std::string& why) {
    if (::geteuid() != 0) return true;
    for (const char* name : {"postgres", "nobody"}) {
      if (const passwd* pw = ::getpwnam(name)) {
        user_ = name;
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        break;
      }
    }
    if (user_.empty() || std::system("command -v runuser >/dev/null 2>&1") != 0) {
      why = "running as root needs runuser and a 'postgres' or 'nobody' account";
      return false;
    }
    return true;
  }

  bool chownToServer(const std::string& path, std::string& why) const {
    if (user_.empty()) return true;
    if (::chown(path.c_str(), uid_, gid_) != 0) {
      why = "cannot chown " + path + " to " + user_;
      return false;
    }
    return true;
  }

  // `cmd` run from the temp dir (the server user may not read our cwd) as the server user.
  [[nodiscard]] std::string asServer(const std::string& cmd, const std::string& cwd = "") const {
    std::string out = "cd " + (cwd.empty() ? dir_ : cwd) + " && ";
    if (!user_.empty()) out += "runuser -u " + user_ + " -- ";
    return out + cmd;
  }

  bool ensureTemplate(std::string& why) {
    std::string key = bin_;
    for (char& c : key) {
      if (c == '/') c = '_';
    }
    templateDir_ = pgTempBase() + "/llmux-pg-template-" +
                   (user_.empty() ? std::to_string(::getuid()) : user_) + key;
    const std::string lockPath = templateDir_ + ".lock";
    int lock = ::open(lockPath.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
      if (lock >= 0) ::close(lock);
      why = "cannot lock " + lockPath;
      return false;
    }
    namespace fs = std::filesystem;
    std::error_code ec;
    bool ok = fs::exists(templateDir_ + "/ready", ec);
    if (!ok) {
      fs::remove_all(templateDir_, ec);
      fs::create_directories(templateDir_, ec);
      ok = chownToServer(templateDir_, why) &&
           std::system(asServer(bin_ + "/initdb -D " + templateDir_ +
                                    "/data -U postgres -A trust --no-locale -E UTF8 --no-sync" +
                                    " >" + templateDir_ + "/initdb.log 2>&1",
                                templateDir_)
                           .c_str()) == 0;
      if (ok) {
        std::ofstream(templateDir_ + "/ready") << "ok\n";
      } else if (why.empty()) {
        why = "initdb failed; see " + templateDir_ + "/initdb.log";
      }
    }
    ::close(lock);
    return ok;
  }

  bool launch() {
    const std::string opts = "-p " + std::to_string(port_) + " -k " + dir_ +
                             " -c listen_addresses=127.0.0.1 -c fsync=off"
                             " -c synchronous_commit=off -c full_page_writes=off"
                             " -c max_connections=60";
    return std::system(asServer(bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                                "/log -w -t 60 -o '" + opts + "' start >/dev/null 2>&1")
                           .c_str()) == 0;
  }

  std::string bin_, user_, dir_, templateDir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace llmux::store::testing
