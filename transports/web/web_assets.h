// The console page a web server serves, built into the binary: the HTML,
// the stylesheet, and one script bundling the page's code with xterm.js and
// protobuf-es (transports/web/page/, bundled by esbuild at build time), so a
// server needs nothing from the network or the disk.
//
// Thread-safety: immutable; any thread.

#ifndef DBGD_TRANSPORTS_WEB_WEB_ASSETS_H_
#define DBGD_TRANSPORTS_WEB_WEB_ASSETS_H_

#include <string_view>

namespace dbgd::transports::web {

struct Asset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

// FindAsset returns the asset served at `path`, or null.
const Asset* FindAsset(std::string_view path);

}  // namespace dbgd::transports::web

#endif  // DBGD_TRANSPORTS_WEB_WEB_ASSETS_H_
