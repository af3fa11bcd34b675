/** The message we deliver, and its translation into SendGrid's v3 mail/send request. */
import helpers from '@sendgrid/helpers';
import type { MailDataRequired } from '@sendgrid/mail';
import type { OutgoingMessage } from '../../ports.js';

export function toMailData(message: OutgoingMessage): MailDataRequired {
  const data: MailDataRequired = {
    from: message.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    customArgs: message.customArgs,
    // RFC 3834: machine-generated, so out-of-office and other auto-responders do not answer it.
    headers: { 'Auto-Submitted': 'auto-generated' },
    categories: ['lastpass-audit-digest', message.kind],
    // A security digest must not be rewritten by click tracking (links would point at SendGrid).
    trackingSettings: { clickTracking: { enable: false, enableText: false }, openTracking: { enable: false } },
  };
  if (message.attachments && message.attachments.length > 0) {
    data.attachments = message.attachments.map((a) => ({ ...a, disposition: 'attachment' }));
  }
  return data;
}

/** The exact JSON body @sendgrid/mail sends to POST /v3/mail/send for this message. */
export function toSendGridRequestBody(message: OutgoingMessage): unknown {
  return helpers.classes.Mail.create(toMailData(message)).toJSON();
}

/**
 * The bytes of the JSON body @sendgrid/mail sends for this message, measured before sending (SendGrid
 * refuses a request over 30 MB, attachments counted base64-encoded). The body is shaped with empty
 * attachment contents and each content's length is added: base64 needs no JSON escaping, so this is exact
 * without building the whole body.
 */
export function encodedRequestBytes(message: OutgoingMessage): number {
  const attachments = message.attachments ?? [];
  const shell: OutgoingMessage = { ...message, attachments: attachments.map((a) => ({ ...a, content: '' })) };
  const body = Buffer.byteLength(JSON.stringify(toSendGridRequestBody(shell)), 'utf8');
  return body + attachments.reduce((sum, a) => sum + a.content.length, 0);
}
