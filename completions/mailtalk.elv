
use builtin;
use str;

set edit:completion:arg-completer[mailtalk] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mailtalk'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mailtalk'= {
            cand -p 'Protocol for a TARGET without scheme'
            cand --protocol 'Protocol for a TARGET without scheme'
            cand --ca-file 'Extra trust anchors (PEM file) for certificate verification'
            cand --sni 'Server name to send in SNI and to verify the certificate against (default: the host)'
            cand -t 'Seconds allowed for connecting, the TLS handshake and each reply'
            cand --timeout 'Seconds allowed for connecting, the TLS handshake and each reply'
            cand --ehlo 'Name to send with EHLO/LHLO when mailtalk sends it itself (--starttls)'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand --script 'Run a script (the input language plus :expect, :capture, :sleep, :include); - reads standard input. Exit status 1 when an expectation fails'
            cand --record 'Write what is typed as a replayable script, with an :expect after each reply and secrets as ${MAILTALK_PASSWORD}'
            cand --transcript 'Write a transcript with timestamps (secrets redacted)'
            cand --auth 'Authenticate after connecting: a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER), IMAP-LOGIN, USER or APOP (POP3); without a value, the strongest the server offers. The secret comes from MAILTALK_PASSWORD, --password-cmd or a prompt without echo, never from the command line'
            cand --user 'User name to authenticate as (implies --auth)'
            cand --authzid 'Authorisation identity (SASL authzid) to act as'
            cand --password-cmd 'Command whose standard output is the password or token (e.g. a password manager)'
            cand --from 'Envelope sender (MAIL FROM) and From header; '''' for the null sender <>. Without it the sender is USER@HOST of this machine (said when used). With --to, send one message and exit'
            cand --to 'Recipient (RCPT TO and To header); repeat for several'
            cand --subject 'Subject header (default: mailtalk test)'
            cand --body 'Body text (default: a short test message)'
            cand --data 'The whole message: @FILE, - for standard input, or the text itself; missing Date, Message-ID, From, To and Subject headers are added; streamed, never loaded whole'
            cand --header 'Extra header, e.g. "X-Test: 1"; repeat for several'
            cand --attach 'Attach a file (MIME multipart, base64); repeat for several'
            cand --notify 'DSN: NEVER, or a comma list of SUCCESS, FAILURE, DELAY'
            cand --ret 'DSN: return FULL message or HDRS only'
            cand --envid 'DSN envelope identifier'
            cand --quit-after 'With --from/--to: stop after this step (connect, banner, ehlo, tls, auth, mail, rcpt, data), say QUIT and exit 0 if every step so far succeeded'
            cand --generate 'Write shell completions and the man page into DIR, then exit'
            cand --tls 'Implicit TLS for a TARGET without scheme (like smtps, imaps, pop3s)'
            cand --starttls 'Upgrade with STARTTLS (STLS for POP3) right after the greeting; any failure stops the session before anything else is sent'
            cand -k 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)'
            cand --insecure 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)'
            cand -4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand --no-history 'Do not read or write the history file'
            cand --keep-going 'With --script: report every failed expectation instead of stopping at the first'
            cand --json 'Print JSON Lines events (connected, sent, received, reply, tls, expect, error) instead of the transcript'
            cand --timing 'Show how long each reply took (to its first byte and to its end), the connection and TLS handshakes; :stats sums up'
            cand --show-cert 'Show the certificate chain and TLS details when TLS starts (like :tls)'
            cand --no-explain 'Do not print a short explanation after replies that are not a plain success'
            cand --allow-plaintext-auth 'Allow passwords over a connection without TLS to a host that is not on loopback'
            cand --8bit 'Declare BODY=8BITMIME'
            cand --smtputf8 'Declare SMTPUTF8 (an error when the server does not offer it)'
            cand --size 'Add SIZE= with the message size when the server offers SIZE'
            cand --bdat 'Send with BDAT when the server offers CHUNKING'
            cand --pipeline 'Pipeline MAIL, RCPT and DATA when the server offers PIPELINING'
            cand --require-all-rcpts 'If any recipient is refused, deliver to nobody: RSET before DATA (after a pipelined 354 the connection is closed before the end of the data). By default the message goes to the recipients the server accepted'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand explain 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailtalk;explain'= {
            cand -p 'Protocol of a pasted reply line (guessed when not given)'
            cand --protocol 'Protocol of a pasted reply line (guessed when not given)'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailtalk;help'= {
            cand explain 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailtalk;help;explain'= {
        }
        &'mailtalk;help;help'= {
        }
    ]
    $completions[$command]
}
