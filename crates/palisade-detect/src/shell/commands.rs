//! Command vocabularies. Unix names are matched case-sensitively (the shell does); Windows
//! names case-insensitively (cmd.exe and PowerShell do).

/// How much a command word proves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    /// Also an English word or abbreviation (`time`, `watch`, `cat`, `sort`): needs an
    /// argument that only a shell would take.
    Word,
    /// Short tool names that are not words (`ls`, `ps`, `rm`): a flag or path suffices.
    Tool,
    /// Unmistakable program names (`whoami`, `wget`, `certutil`).
    Unique,
}

/// Commands that reconnaissance payloads run without arguments (`;id`, `|whoami`).
pub(crate) fn is_probe(word: &[u8]) -> bool {
    matches!(
        word,
        b"id"
            | b"ls"
            | b"pwd"
            | b"whoami"
            | b"uname"
            | b"ps"
            | b"env"
            | b"ifconfig"
            | b"netstat"
            | b"hostname"
            | b"dir"
            | b"ver"
            | b"ipconfig"
            | b"systeminfo"
            | b"set"
            | b"w"
            | b"who"
            | b"reboot"
            | b"halt"
            | b"shutdown"
            | b"sh"
            | b"bash"
            | b"uptime"
            | b"nproc"
            | b"lscpu"
            | b"printenv"
            | b"groups"
            | b"tasklist"
            | b"getmac"
            | b"arp"
            | b"route"
    )
}

/// Probes that are not English words, so even a weak separator (`|id`, `&ls`) suffices.
pub(crate) fn is_quiet_probe(word: &[u8]) -> bool {
    matches!(
        word,
        b"id"
            | b"ls"
            | b"pwd"
            | b"whoami"
            | b"uname"
            | b"ps"
            | b"env"
            | b"ifconfig"
            | b"netstat"
            | b"ipconfig"
            | b"systeminfo"
            | b"printenv"
            | b"tasklist"
            | b"getmac"
            | b"nproc"
            | b"lscpu"
            | b"hostname"
    )
}

/// Unix command tier (case-sensitive), `None` if not a command we know.
pub(crate) fn unix(word: &[u8]) -> Option<Tier> {
    let tier = match word {
        b"uname" | b"whoami" | b"wget" | b"curl" | b"nc" | b"ncat" | b"netcat" | b"bash"
        | b"zsh" | b"ksh" | b"tcsh" | b"csh" | b"sh" | b"python" | b"python2" | b"python3"
        | b"perl" | b"ruby" | b"php" | b"lua" | b"nslookup" | b"telnet" | b"tftp" | b"chmod"
        | b"chown" | b"chgrp" | b"mkdir" | b"rmdir" | b"base64" | b"xxd" | b"nohup"
        | b"crontab" | b"sudo" | b"useradd" | b"usermod" | b"userdel" | b"passwd" | b"ifconfig"
        | b"netstat" | b"hostname" | b"killall" | b"pkill" | b"busybox" | b"socat" | b"nmap"
        | b"gcc" | b"awk" | b"gawk" | b"sed" | b"grep" | b"egrep" | b"fgrep" | b"xargs"
        | b"gzip" | b"gunzip" | b"bzip2" | b"zcat" | b"unzip" | b"openssl" | b"printenv"
        | b"lscpu" | b"nproc" | b"getent" | b"strace" | b"wall" | b"mkfifo" | b"mknod" | b"ssh"
        | b"scp" | b"rsync" | b"dig" | b"traceroute" | b"ping6" | b"iptables" | b"systemctl"
        | b"chattr" | b"lsof" | b"readlink" | b"uptime" | b"shutdown" | b"reboot" | b"whois"
        | b"node" | b"nodejs" | b"jjs" | b"jrunscript" | b"php-cgi" | b"powershell" | b"pwsh"
        | b"tclsh" | b"wish" | b"irb" | b"expect" | b"msfvenom" | b"dash" | b"fish" | b"rbash"
        | b"sftp" | b"ftp" | b"lynx" | b"nc.traditional" | b"nc.openbsd" | b"groups" => {
            Tier::Unique
        }
        b"ls" | b"ps" | b"rm" | b"cp" | b"mv" | b"dd" | b"od" | b"nl" | b"tac" | b"wc" | b"env"
        | b"pwd" | b"id" | b"ln" | b"du" | b"df" | b"tar" | b"zip" | b"vi" | b"vim" | b"nano"
        | b"less" | b"more" | b"diff" | b"uniq" | b"hexdump" | b"strings" | b"ping" | b"cat"
        | b"echo" | b"printf" | b"head" | b"tail" | b"kill" | b"arp" | b"route" | b"w" | b"who"
        | b"last" | b"finger" | b"getmac" | b"java" | b"tee" | b"rev" | b"cut" | b"tr"
        | b"exec" | b"eval" | b"export" | b"unset" | b"alias" | b"history" | b"locate"
        | b"whereis" | b"which" | b"halt" | b"at" | b"sleep" | b"time" | b"watch" | b"date"
        | b"links" | b"source" | b"find" | b"sort" | b"touch" | b"make" | b"file" | b"mail"
        | b"su" | b"set" | b"test" | b"type" | b"true" | b"false" | b"shred" | b"chroot"
        | b"install" | b"stat" | b"timeout" | b"nice" | b"split" | b"join" | b"paste" | b"fold"
        | b"look" | b"column" | b"dir" | b"mount" | b"host" => Tier::Tool,
        _ => return None,
    };
    // English words and abbreviations seen in clinical text demand more.
    let wordlike = matches!(
        word,
        b"less"
            | b"more"
            | b"ping"
            | b"cat"
            | b"echo"
            | b"head"
            | b"tail"
            | b"kill"
            | b"w"
            | b"who"
            | b"last"
            | b"finger"
            | b"java"
            | b"tee"
            | b"cut"
            | b"at"
            | b"sleep"
            | b"time"
            | b"watch"
            | b"date"
            | b"links"
            | b"source"
            | b"find"
            | b"sort"
            | b"touch"
            | b"make"
            | b"file"
            | b"mail"
            | b"set"
            | b"test"
            | b"type"
            | b"true"
            | b"false"
            | b"install"
            | b"stat"
            | b"timeout"
            | b"nice"
            | b"split"
            | b"join"
            | b"paste"
            | b"fold"
            | b"look"
            | b"column"
            | b"mount"
            | b"host"
            | b"expect"
            | b"wish"
            | b"fish"
            | b"dash"
            | b"wall"
            | b"dig"
            | b"lynx"
            | b"exec"
            | b"eval"
            | b"export"
            | b"alias"
            | b"history"
            | b"locate"
            | b"which"
            | b"halt"
            | b"rev"
            | b"tr"
            | b"id"
            | b"diff"
            | b"strings"
            | b"vi"
            | b"sh"
            | b"route"
            | b"dir"
    );
    Some(if wordlike { Tier::Word } else { tier })
}

/// Windows (cmd.exe / PowerShell) command tier, matched case-insensitively with any `.exe`
/// suffix removed by the caller.
pub(crate) fn windows(lower: &[u8]) -> Option<Tier> {
    Some(match lower {
        b"powershell"
        | b"pwsh"
        | b"cmd"
        | b"certutil"
        | b"bitsadmin"
        | b"wmic"
        | b"rundll32"
        | b"regsvr32"
        | b"mshta"
        | b"cscript"
        | b"wscript"
        | b"ipconfig"
        | b"systeminfo"
        | b"tasklist"
        | b"taskkill"
        | b"schtasks"
        | b"vssadmin"
        | b"wevtutil"
        | b"icacls"
        | b"findstr"
        | b"nslookup"
        | b"whoami"
        | b"netsh"
        | b"msiexec"
        | b"cacls"
        | b"xcopy"
        | b"robocopy"
        | b"getmac"
        | b"nbtstat"
        | b"tracert"
        | b"invoke-expression"
        | b"iex"
        | b"invoke-webrequest"
        | b"iwr"
        | b"invoke-restmethod"
        | b"irm"
        | b"new-object"
        | b"start-process"
        | b"get-content"
        | b"get-childitem"
        | b"set-content"
        | b"out-file"
        | b"invoke-command"
        | b"get-process"
        | b"get-wmiobject"
        | b"invoke-item"
        | b"start-bitstransfer"
        | b"test-connection"
        | b"get-service"
        | b"add-type"
        | b"set-executionpolicy"
        | b"downloadstring"
        | b"downloadfile" => Tier::Unique,
        b"net" | b"type" | b"dir" | b"copy" | b"del" | b"erase" | b"move" | b"ren" | b"start"
        | b"set" | b"echo" | b"ver" | b"ping" | b"attrib" | b"more" | b"find" | b"sort"
        | b"tree" | b"where" | b"timeout" | b"shutdown" | b"call" | b"reg" | b"sc" => Tier::Word,
        _ => return None,
    })
}
