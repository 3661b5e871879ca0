
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
            cand --no-explain 'Do not print a short explanation after replies that are not a plain success'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
