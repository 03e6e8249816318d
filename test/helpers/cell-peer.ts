import * as grpc from '@grpc/grpc-js'
import { readFileSync } from 'node:fs'
import { cellService } from '../../shared/cell-link/proto.js'
import { cellIdentityFiles, pkiLayout } from '../../shared/pki/pki-layout.js'

/**
 * One unary call of the Cell service straight to a cell agent at `address`, as the cell `as`
 * (its key and certificate from `pkiDir`) or, with `as` undefined, with no client certificate.
 * The client trusts the federation CA (public) but does not check the server's name: it plays
 * whoever it is told to. Resolves with the error, or null on success.
 */
export async function callCellAs(args: {
  readonly pkiDir: string
  readonly address: string
  readonly as: string | undefined
  readonly rpc: string
  readonly req: object
}): Promise<grpc.ServiceError | null> {
  const ca = readFileSync(pkiLayout(args.pkiDir).caCert)
  const me = args.as === undefined ? undefined : cellIdentityFiles(args.pkiDir, args.as)
  const creds = grpc.credentials.createSsl(ca, me === undefined ? null : readFileSync(me.key), me === undefined ? null : readFileSync(me.cert), {
    checkServerIdentity: () => undefined,
  })
  const Ctor = cellService()
  const client = new Ctor(args.address, creds, { 'grpc.ssl_target_name_override': 'cell' }) as grpc.Client & Record<string, any>
  try {
    return await new Promise((done) => client[args.rpc](args.req, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null) => done(err)))
  } finally {
    client.close()
  }
}
