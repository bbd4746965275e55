// The com transport: debugging servers and clients on serial lines
// (`com:port=COM2,baud=115200,channel=3`; docs/servers.md "com",
// docs/protocol.md §2).
//
// A server is a channel of a line (line.h): the line opens once per device
// for the whole daemon, channels are routed to their servers, and a second
// server on the same device and channel is ALREADY_EXISTS. Sessions begin
// and end on the channel as line.h describes. The rate actually set is
// read back into the endpoint; damaged packets are counted per line
// (Listener::damaged_packets). There is no reverse (`clicon`) form.
//
// Thread-safety: as transports/transport.h says.

#ifndef DBGD_TRANSPORTS_COM_COM_H_
#define DBGD_TRANSPORTS_COM_COM_H_

#include "transports/transport_ops.h"

namespace dbgd::transports {

// ComTransport is the com row of the factory's table.
const TransportOps& ComTransport();

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_COM_COM_H_
