import type { Transporter } from "nodemailer";
import type { Config } from "../config";
import type { Metrics } from "../metric-types";

export interface MailMessage {
  to: string;
  subject: string;
  /** Plain text, and the same as HTML: no remote images, no script. */
  text: string;
  html: string;
}

/** What sends the package's mail: SMTP_URL's server, the log, or a site's own mailer. */
export interface MailSender {
  send(message: MailMessage): Promise<void>;
}

/**
 * Through an SMTP server (`smtp://user:password@host:587`, `smtps://...:465`), with nodemailer,
 * loaded at the first message: a site without SMTP_URL never pays for it at import.
 */
export function smtpSender(url: string, from: string): MailSender {
  let transport: Promise<Transporter> | undefined;
  return {
    async send(message) {
      transport ??= import("nodemailer").then((nodemailer) => nodemailer.default.createTransport(url));
      await (await transport).sendMail({ from, ...message });
    },
  };
}

/**
 * Without SMTP_URL: each message handed to the site's log. Outside production with its links,
 * so that the two-command start shows the whole flow; in production without their tokens: a
 * link in a log is a credential for whoever reads the log.
 */
export function logSender(write: (message: MailMessage) => void, production: boolean): MailSender {
  return {
    async send(message) {
      write(production ? { ...message, text: withoutLinkTokens(message.text), html: withoutLinkTokens(message.html) } : message);
    },
  };
}

function withoutLinkTokens(text: string): string {
  return text.replace(/([?&]t=)[^\s&"'<]+/g, "$1(not shown: mail is not sent without SMTP_URL)");
}

export interface MailQueueOptions {
  /** Tries per message, the first included. */
  attempts?: number;
  /** The wait before the second try (ms); it doubles for each next one. */
  retryAfterMs?: number;
  onSent?: () => void;
  /** A try failed; `final` when the message is given up. */
  onFailed?: (err: Error, final: boolean) => void;
}

/**
 * Mail goes out beside the request that caused it, never in its way: `enqueue` returns at
 * once, a sender that fails is tried again later (a mail server that is down delays mail, it
 * never fails a sign-in), and failures go to `onFailed` for the logs and the metrics. Held in
 * this process: a message still waiting when the process stops is lost.
 */
export class MailQueue {
  private readonly waiting: Array<{ message: MailMessage; attempt: number }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private sending = false;
  private closed = false;
  private readonly attempts: number;
  private readonly retryAfterMs: number;

  constructor(
    private readonly sender: MailSender,
    private readonly options: MailQueueOptions = {},
  ) {
    this.attempts = options.attempts ?? 5;
    this.retryAfterMs = options.retryAfterMs ?? 2000;
  }

  enqueue(message: MailMessage): void {
    if (this.closed) return;
    this.waiting.push({ message, attempt: 1 });
    void this.drain();
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.waiting.length = 0;
  }

  private async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    for (let next = this.waiting.shift(); next && !this.closed; next = this.waiting.shift()) {
      try {
        await this.sender.send(next.message);
        this.options.onSent?.();
      } catch (err) {
        const final = next.attempt >= this.attempts;
        this.options.onFailed?.(err as Error, final);
        if (!final) this.retryLater({ message: next.message, attempt: next.attempt + 1 });
      }
    }
    this.sending = false;
  }

  private retryLater(item: { message: MailMessage; attempt: number }): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        this.waiting.push(item);
        void this.drain();
      },
      this.retryAfterMs * 2 ** (item.attempt - 2),
    );
    timer.unref();
    this.timers.add(timer);
  }
}

/**
 * The package's queue, on the site's sender, SMTP_URL's server, or else the log
 * (`events.mailWritten`, printed when the site gives no handler: the two-command start shows
 * every mail, link included). Counted in the metrics; failures told to `events.mailFailed`.
 */
export function openMailQueue(
  config: Config,
  given: MailSender | undefined,
  events: { mailWritten?(message: MailMessage): void; mailFailed?(err: Error, final: boolean): void } = {},
  metrics?: Metrics,
): MailQueue {
  const print = (message: MailMessage) => console.log(`mail to ${message.to}: ${message.subject}\n${message.text}`);
  const sender = given ?? (config.smtpUrl ? smtpSender(config.smtpUrl, config.mailFrom) : logSender(events.mailWritten ?? print, config.production));
  return new MailQueue(sender, {
    onSent: () => metrics?.mail.inc({ outcome: "sent" }),
    onFailed: (err, final) => {
      metrics?.mail.inc({ outcome: final ? "given_up" : "failed" });
      events.mailFailed?.(err, final);
    },
  });
}
