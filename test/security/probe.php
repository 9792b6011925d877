<?php
// Network probes run inside a demo container, with the PHP the shop ships (what a visitor who
// uploaded a module could run). Input: a JSON list of targets in argv[1]; output: a JSON list of
// results, one per target, all probed in parallel within a deadline.
//   {"tcp": "host", "port": 80}             -> open | refused | unreachable | timeout | error:<n>
//   {"ptr": "10.95.0.7", "server": "10.95.0.1"} -> answer | no-answer  (a DNS PTR query over UDP)
$targets = json_decode($argv[1], true);
$deadline = microtime(true) + (float)($argv[2] ?? 2.0);
$results = array_fill(0, count($targets), 'timeout');
$tcp = [];
$udp = [];
foreach ($targets as $i => $t) {
    if (isset($t['tcp'])) {
        $host = strpos($t['tcp'], ':') !== false ? '[' . $t['tcp'] . ']' : $t['tcp'];
        $s = @stream_socket_client("tcp://$host:{$t['port']}", $errno, $errstr, 0, STREAM_CLIENT_ASYNC_CONNECT | STREAM_CLIENT_CONNECT);
        if ($s === false) { $results[$i] = $errno === 111 ? 'refused' : ($errno === 113 || $errno === 101 ? 'unreachable' : "error:$errno"); continue; }
        $tcp[$i] = $s;
    } elseif (isset($t['ptr'])) {
        $name = implode('.', array_reverse(explode('.', $t['ptr']))) . '.in-addr.arpa';
        $q = pack('nnnnnn', random_int(1, 65535), 0x0100, 1, 0, 0, 0);
        foreach (explode('.', $name) as $label) $q .= chr(strlen($label)) . $label;
        $q .= "\0" . pack('nn', 12, 1);
        $s = socket_create(AF_INET, SOCK_DGRAM, SOL_UDP);
        socket_set_nonblock($s);
        @socket_sendto($s, $q, strlen($q), 0, $t['server'], 53);
        $udp[$i] = $s;
        $results[$i] = 'no-answer';
    }
}
while (($tcp || $udp) && ($left = $deadline - microtime(true)) > 0) {
    $w = $tcp; $r = []; $e = null;
    if ($w) @stream_select($r, $w, $e, 0, 20000);
    foreach ($w as $i => $s) {
        $sock = socket_import_stream($s);
        $err = socket_get_option($sock, SOL_SOCKET, SO_ERROR);
        $results[$i] = $err === 0 ? 'open' : ($err === 111 ? 'refused' : ($err === 113 || $err === 101 ? 'unreachable' : "error:$err"));
        unset($tcp[$i]);
    }
    if ($udp) {
        $ur = array_values($udp); $uw = null; $ue = null;
        if (@socket_select($ur, $uw, $ue, 0, 20000) > 0) {
            foreach ($udp as $i => $s) {
                if (@socket_recvfrom($s, $buf, 4096, 0, $from, $port) > 0) {
                    $answers = unpack('n', substr($buf, 6, 2))[1];
                    $results[$i] = $answers > 0 ? 'answer' : 'empty-answer';
                    unset($udp[$i]);
                }
            }
        }
    }
}
echo json_encode($results);
