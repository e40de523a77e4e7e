#!/usr/bin/perl
# Reads one message on standard input with two Perl MIME parsers and
# prints, as JSON, what each takes for the file name of every leaf part:
# {"email-mime": [...], "mime-tools": [...]}, one entry per leaf in the
# order of the message, each {"type", "filename", "name"}.
#
# Email::MIME: filename() (the Content-Disposition filename, RFC 2231
# decoded) and the name attribute of its parsed Content-Type, which it
# leaves with any encoded-words in it (RFC 2047 5 puts none there), decoded
# with Encode's MIME-Header as a program reading name does. MIME::Parser: the head's mime_attr() of
# content-disposition.filename and content-type.name, which MIME::Tools
# returns as raw header text, decoded from encoded-words as its own
# documentation says (MIME::Words), to UTF-8.
use strict;
use warnings;
use Email::MIME;
use Encode qw(decode);
use JSON::PP;
use MIME::Parser;
use MIME::Words qw(decode_mimewords);

binmode STDOUT;
local $/;
my $raw = <STDIN>;

sub email_mime_leaves {
    my ($part) = @_;
    return ($part) if $part->content_type !~ m{^\s*multipart/}i;
    return map { email_mime_leaves($_) } $part->subparts;
}

sub email_mime {
    my $msg = Email::MIME->new($raw);
    return [
        map {
            my $ct = Email::MIME::ContentType::parse_content_type(
                $_->header_raw('Content-Type') // '');
            {
                type     => "$ct->{type}/$ct->{subtype}",
                filename => $_->filename,
                name     => mime_header($ct->{attributes}{name}),
            }
        } email_mime_leaves($msg)
    ];
}

sub mime_header {
    my ($v) = @_;
    return defined $v ? decode('MIME-Header', $v) : undef;
}

# MIME::Words gives back bytes with their charsets; the text they spell.
sub words {
    my ($v) = @_;
    return undef unless defined $v;
    return join '',
        map { defined $_->[1] ? decode($_->[1], $_->[0]) : $_->[0] }
        decode_mimewords($v);
}

sub mime_tools_leaves {
    my ($e) = @_;
    return ($e) if !$e->is_multipart || $e->effective_type =~ m{^message/}i;
    return map { mime_tools_leaves($_) } $e->parts;
}

sub mime_tools {
    my $parser = MIME::Parser->new;
    $parser->output_to_core(1);
    $parser->tmp_to_core(1);
    # An attached message stays one part, as the other readers take it.
    $parser->extract_nested_messages(0);
    my $e = $parser->parse_data($raw);
    return [
        map {
            my $h = $_->head;
            {
                type     => $_->effective_type,
                filename => words($h->mime_attr('content-disposition.filename')),
                name     => words($h->mime_attr('content-type.name')),
            }
        } mime_tools_leaves($e)
    ];
}

print JSON::PP->new->utf8->canonical->encode(
    { 'email-mime' => email_mime(), 'mime-tools' => mime_tools() });
