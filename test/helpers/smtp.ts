import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface TestSmtp {
  url: string;
  /** Every message received, parsed. */
  received: ParsedMail[];
  /** Resolves with the first message to `to` after `since` messages (polling what arrived). */
  nextTo(to: string, since?: number, timeoutMs?: number): Promise<ParsedMail>;
  /** The first mail to `to` whose subject matches, from index `since` on. */
  nextAbout(to: string, subject: RegExp, since?: number): Promise<ParsedMail>;
  stop(): Promise<void>;
}

/** A real SMTP server in this process, on a free loopback port: what the product sends arrives here. */
export async function startSmtp(): Promise<TestSmtp> {
  const received: ParsedMail[] = [];
  async function waitFor(to: string, wanted: (mail: ParsedMail) => boolean, since: number, timeoutMs: number): Promise<ParsedMail> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
      const found = received.slice(since).find((m) => m.to && [m.to].flat().some((a) => a.text.includes(to)) && wanted(m));
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no mail to ${to} arrived in ${timeoutMs} ms (${received.length} received)`);
  }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, done) {
      simpleParser(stream).then(
        (mail) => {
          received.push(mail);
          done();
        },
        (err) => done(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    nextTo: (to, since = 0, timeoutMs = 5000) => waitFor(to, () => true, since, timeoutMs),
    nextAbout: (to, subject, since = 0) => waitFor(to, (m) => subject.test(m.subject ?? ""), since, 5000),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
