#!/usr/bin/env node
// dbgd's control plane from Node: a session, a server, a search, a command.
//
// Creates a gdb session on PROGRAM and a debugging server SPEC for it, lists
// sessions and servers, searches for servers, runs debugger commands with
// Execute, then ends the server and the session.
//
//   (cd examples/node && npm ci)
//   node examples/node/dbgd_example.js --program=/usr/bin/sleep --server=tcp:port=5005 -- 60
//
// Options: --addr (default $DBGD_ADDR, else dbgd's default socket),
// --token_file and --tls_ca as dbgctl takes them, --exec (repeatable).
// The .proto files are read at run time from the repository's proto/
// (override with DBGD_PROTO_ROOT) and Debian's grpc-proto (health).
// Exit status 0 when every call succeeded, 1 otherwise.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const runtime = process.env.XDG_RUNTIME_DIR;
const { values: options, positionals: args } = parseArgs({
  options: {
    addr: {
      type: 'string',
      default: process.env.DBGD_ADDR ||
        `unix:${runtime ? runtime + '/dbgd' : '/run/dbgd'}/control.sock`,
    },
    token_file: { type: 'string' },
    tls_ca: { type: 'string' },
    program: { type: 'string' },
    server: { type: 'string' },
    exec: { type: 'string', multiple: true, default: ['print 6*7'] },
  },
  allowPositionals: true,
});
if (!options.program || !options.server) {
  console.error('usage: dbgd_example.js --program=PATH --server=SPEC [--addr=ADDR] ' +
                '[--token_file=FILE] [--tls_ca=FILE] [--exec=COMMAND]... [-- ARGS...]');
  process.exit(2);
}

// keepCase: fields as the .proto spells them (next_page_token);
// enums as their names; oneofs tell which target kind is set.
const definition = protoLoader.loadSync(
  ['dbgd/v1/control.proto', 'dbgd/v1/discovery.proto', 'grpc/health/v1/health.proto'],
  {
    includeDirs: [process.env.DBGD_PROTO_ROOT || path.join(__dirname, '../../proto'),
                  '/usr/share/grpc-proto'],
    keepCase: true, enums: String, longs: String, defaults: true, oneofs: true,
  });
const loaded = grpc.loadPackageDefinition(definition);

const credentials = options.tls_ca
  ? grpc.credentials.createSsl(fs.readFileSync(options.tls_ca))
  : grpc.credentials.createInsecure();  // also for unix:PATH
const control = new loaded.dbgd.v1.Control(options.addr, credentials);
const discovery = new loaded.dbgd.v1.Discovery(options.addr, credentials);
const health = new loaded.grpc.health.v1.Health(options.addr, credentials);

// Every call carries who we are (shown to the session's clients) and, when
// the daemon wants one, the bearer token.
const metadata = new grpc.Metadata();
metadata.set('x-dbgd-identity', `${os.hostname()}\\node-example`);
if (options.token_file) {
  metadata.set('authorization',
               'Bearer ' + fs.readFileSync(options.token_file, 'utf8').trim());
}

function call(client, method, request, seconds = 10) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + seconds * 1000 },
                   (error, response) => (error ? reject(error) : resolve(response)));
  });
}

// Follows next_page_token until the last page (AIP-158).
async function everyPage(client, method, request, field) {
  const items = [];
  for (;;) {
    const response = await call(client, method, request);
    items.push(...response[field]);
    if (!response.next_page_token) return items;
    request = { ...request, page_token: response.next_page_token };
  }
}

async function main() {
  const status = await call(health, 'Check', { service: 'dbgd.v1.Control' });
  console.log(`health dbgd.v1.Control: ${status.status}`);

  const session = await call(control, 'CreateSession', {
    engine: 'gdb',
    target: { launch: { program: options.program, args } },
  }, 60);
  console.log(`created ${session.name}: ${session.engine}, engine pid ${session.engine_pid}`);
  let server = null;
  try {
    server = await call(control, 'CreateServer', { session: session.name, spec: options.server });
    console.log(`created ${server.name}: ${server.actual_endpoint}, ` +
                `connect with -remote ${server.connect_string}`);

    console.log('sessions:');
    for (const s of await everyPage(control, 'ListSessions', {}, 'sessions')) {
      const program = s.target.launch?.program ?? '';
      console.log(`  ${s.name} ${s.state} servers ${s.server_count} ${program}`);
    }
    console.log('servers:');
    for (const s of await everyPage(control, 'ListServers', {}, 'servers')) {
      console.log(`  ${s.name} ${s.session} ${s.actual_endpoint} ${s.state}`);
    }
    console.log('search:');
    for (const s of await everyPage(discovery, 'SearchServers', {}, 'servers')) {
      console.log(`  \\\\${s.host} ${s.kind} - ${s.endpoint} (${s.connect_string})`);
    }

    for (const command of options.exec) {
      const result = await call(control, 'Execute', { session: session.name, command }, 60);
      console.log(`execute '${command}':`);
      process.stdout.write(result.output);
      if (result.error) console.log(`error: ${result.error}`);
    }
  } finally {
    // Whatever failed above, end what this script made.
    if (server) {
      await call(control, 'DeleteServer', { name: server.name });
      console.log(`ended ${server.name}`);
    }
    await call(control, 'DeleteSession', { name: session.name, kill_target: true });
    console.log(`ended ${session.name}`);
  }
}

main().then(() => process.exit(0), (error) => {
  // dbgd's errors are gRPC status codes with a message naming the cause,
  // e.g. INVALID_ARGUMENT: spec: port: 70000 is above 65535.
  const code = error.code === undefined ? '' : `${grpc.status[error.code]}: `;
  console.error(`dbgd_example.js: ${code}${error.details ?? error.message}`);
  process.exit(1);
});
