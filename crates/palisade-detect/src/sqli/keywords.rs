//! SQL words the grammar checks care about. Everything else lexes as a plain identifier.

use crate::ascii::{byte_table, starts_with_ci};
use crate::wordmap::{WordMap, WordSet};

/// A recognised SQL word. `None` means "an ordinary identifier".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    None,
    // clauses and statements
    Select,
    Union,
    All,
    Distinct,
    Top,
    From,
    Where,
    Order,
    Group,
    By,
    Having,
    Limit,
    Offset,
    Into,
    Outfile,
    Dumpfile,
    Insert,
    Update,
    Delete,
    Drop,
    Create,
    Alter,
    Truncate,
    Exec,
    Declare,
    Set,
    Waitfor,
    Delay,
    Shutdown,
    Values,
    Join,
    Procedure,
    Analyse,
    Case,
    When,
    Then,
    Else,
    End,
    As,
    With,
    // objects that follow DROP / CREATE / ALTER / TRUNCATE
    Object,
    // logic
    And,
    Or,
    Xor,
    Not,
    // comparison-like
    Like,
    Rlike,
    Regexp,
    Between,
    Is,
    In,
    Sounds,
    Div,
    // literals
    Null,
    True,
    False,
}

/// Every keyword and what it is.
static KEYWORDS: WordMap<Kw, 256> = WordMap::new(&[
    (b"select", Kw::Select),
    (b"union", Kw::Union),
    (b"all", Kw::All),
    (b"distinct", Kw::Distinct),
    (b"distinctrow", Kw::Distinct),
    (b"top", Kw::Top),
    (b"from", Kw::From),
    (b"where", Kw::Where),
    (b"order", Kw::Order),
    (b"group", Kw::Group),
    (b"by", Kw::By),
    (b"having", Kw::Having),
    (b"limit", Kw::Limit),
    (b"offset", Kw::Offset),
    (b"into", Kw::Into),
    (b"outfile", Kw::Outfile),
    (b"dumpfile", Kw::Dumpfile),
    (b"insert", Kw::Insert),
    (b"replace", Kw::Insert),
    (b"update", Kw::Update),
    (b"delete", Kw::Delete),
    (b"drop", Kw::Drop),
    (b"create", Kw::Create),
    (b"alter", Kw::Alter),
    (b"truncate", Kw::Truncate),
    (b"exec", Kw::Exec),
    (b"execute", Kw::Exec),
    (b"declare", Kw::Declare),
    (b"set", Kw::Set),
    (b"waitfor", Kw::Waitfor),
    (b"delay", Kw::Delay),
    (b"shutdown", Kw::Shutdown),
    (b"values", Kw::Values),
    (b"join", Kw::Join),
    (b"procedure", Kw::Procedure),
    (b"analyse", Kw::Analyse),
    (b"analyze", Kw::Analyse),
    (b"case", Kw::Case),
    (b"when", Kw::When),
    (b"then", Kw::Then),
    (b"else", Kw::Else),
    (b"end", Kw::End),
    (b"as", Kw::As),
    (b"with", Kw::With),
    (b"table", Kw::Object),
    (b"database", Kw::Object),
    (b"schema", Kw::Object),
    (b"view", Kw::Object),
    (b"function", Kw::Object),
    (b"trigger", Kw::Object),
    (b"index", Kw::Object),
    (b"user", Kw::Object),
    (b"login", Kw::Object),
    (b"column", Kw::Object),
    (b"tablespace", Kw::Object),
    (b"and", Kw::And),
    (b"or", Kw::Or),
    (b"xor", Kw::Xor),
    (b"not", Kw::Not),
    (b"like", Kw::Like),
    (b"ilike", Kw::Like),
    (b"rlike", Kw::Rlike),
    (b"regexp", Kw::Regexp),
    (b"between", Kw::Between),
    (b"is", Kw::Is),
    (b"in", Kw::In),
    (b"sounds", Kw::Sounds),
    (b"div", Kw::Div),
    (b"mod", Kw::Div),
    (b"null", Kw::Null),
    (b"true", Kw::True),
    (b"false", Kw::False),
]);

/// Looks a word up case-insensitively.
pub(crate) fn lookup(word: &[u8]) -> Kw {
    KEYWORDS.get(word).unwrap_or(Kw::None)
}

/// Functions whose only plausible use in a request value is a time-based blind injection.
pub(crate) fn is_delay_function(word: &[u8]) -> bool {
    DELAY_FUNCTIONS.contains(word)
}

static DELAY_FUNCTIONS: WordSet<32> = WordSet::of(&[
    b"sleep",
    b"pg_sleep",
    b"benchmark",
    b"pg_sleep_for",
    b"dbms_lock.sleep",
    b"dbms_pipe.receive_message",
    b"dbms_session.sleep",
    b"randomblob",
]);

/// Functions used to exfiltrate data through error messages or the file system.
pub(crate) fn is_attack_function(word: &[u8]) -> bool {
    ATTACK_FUNCTIONS.contains(word)
}

static ATTACK_FUNCTIONS: WordSet<64> = WordSet::of(&[
    b"load_file",
    b"extractvalue",
    b"updatexml",
    b"xp_cmdshell",
    b"xp_dirtree",
    b"xp_regread",
    b"sp_oacreate",
    b"sp_executesql",
    b"openrowset",
    b"opendatasource",
    b"utl_http.request",
    b"utl_inaddr.get_host_address",
    b"dbms_xmlgen.getxml",
    b"ctxsys.drithsx.sn",
    b"pg_read_file",
    b"lo_import",
    b"lo_get",
    b"lo_export",
    b"dblink",
    b"dblink_exec",
    b"pg_ls_dir",
    b"sys_exec",
    b"sys_eval",
    b"json_keys",
    b"gtid_subset",
    b"name_const",
    b"geometrycollection",
    b"multipoint",
    b"polygon",
    b"linestring",
]);

/// Functions that reveal the database identity; called with no argument they are a
/// fingerprinting probe (`version()`, `user()`).
pub(crate) fn is_info_function(word: &[u8]) -> bool {
    INFO_FUNCTIONS.contains(word)
}

static INFO_FUNCTIONS: WordSet<64> = WordSet::of(&[
    b"version",
    b"database",
    b"user",
    b"current_user",
    b"session_user",
    b"system_user",
    b"schema",
    b"current_database",
    b"current_schema",
    b"db_name",
    b"user_name",
    b"suser_name",
    b"host_name",
    b"connection_id",
    b"last_insert_id",
    b"uuid",
    b"sqlite_version",
]);

/// Type names after a PostgreSQL `::` cast.
pub(crate) fn is_sql_type(word: &[u8]) -> bool {
    SQL_TYPES.contains(word)
}

static SQL_TYPES: WordSet<64> = WordSet::of(&[
    b"int",
    b"int4",
    b"int8",
    b"integer",
    b"bigint",
    b"smallint",
    b"text",
    b"varchar",
    b"char",
    b"numeric",
    b"decimal",
    b"double",
    b"float",
    b"real",
    b"json",
    b"jsonb",
    b"bool",
    b"boolean",
    b"regclass",
    b"oid",
    b"bytea",
    b"xml",
    b"date",
    b"timestamp",
    b"inet",
    b"name",
]);

/// Identifiers that name database catalogues or dangerous procedures: seeing one next to any
/// SQL syntax is a strong signal on its own.
pub(crate) fn is_catalog_name(word: &[u8]) -> bool {
    CATALOG_NAMES.contains(word)
}

const CATALOG_NAME_LIST: &[&[u8]] = &[
    b"information_schema",
    b"xp_cmdshell",
    b"sysobjects",
    b"syscolumns",
    b"sysdatabases",
    b"sys.tables",
    b"sys.objects",
    b"sys.databases",
    b"pg_shadow",
    b"pg_user",
    b"pg_database",
    b"pg_catalog",
    b"pg_tables",
    b"mysql.user",
    b"sqlite_master",
    b"sqlite_schema",
    b"all_tables",
    b"all_users",
    b"user_tables",
    b"dba_users",
    b"v$version",
    b"msysobjects",
    b"master..sysdatabases",
    b"master..xp_cmdshell",
    b"master.dbo.sysdatabases",
    b"performance_schema",
];

static CATALOG_NAMES: WordSet<64> = WordSet::of(CATALOG_NAME_LIST);

/// Bytes of which every catalog name not starting with `sys` or `msys` has one.
const CATALOG_MARK: [bool; 256] = byte_table(b"_.$");

/// Whether `word` can be a catalog name or have one as a dotted part (`db.sysobjects`): every
/// name starts with `sys` or `msys` or has a `_`, `.` or `$`. It rejects plain words more
/// cheaply than the lookups; that it holds for every name is checked at compile time below.
pub(crate) fn may_name_catalog(word: &[u8]) -> bool {
    starts_with_ci(word, 0, b"sys")
        || starts_with_ci(word, 0, b"msys")
        || word.iter().any(|&b| CATALOG_MARK[usize::from(b)])
}

const _: () = {
    let mut k = 0;
    while k < CATALOG_NAME_LIST.len() {
        let name = CATALOG_NAME_LIST[k];
        let sys = name.len() >= 4
            && ((name[0] == b's' && name[1] == b'y' && name[2] == b's')
                || (name[0] == b'm' && name[1] == b's' && name[2] == b'y' && name[3] == b's'));
        let mut marked = false;
        let mut b = 0;
        while b < name.len() {
            marked |= CATALOG_MARK[name[b] as usize];
            b += 1;
        }
        assert!(
            sys || marked,
            "a catalog name that may_name_catalog rejects"
        );
        k += 1;
    }
};

/// Server variables (`@@name`) that only an attacker fingerprinting a database asks for.
pub(crate) fn is_server_variable(word: &[u8]) -> bool {
    SERVER_VARIABLES.contains(word)
}

static SERVER_VARIABLES: WordSet<32> = WordSet::of(&[
    b"@@version",
    b"@@datadir",
    b"@@hostname",
    b"@@servername",
    b"@@basedir",
    b"@@tmpdir",
    b"@@version_compile_os",
    b"@@spid",
    b"@@language",
    b"@@identity",
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(lookup(b"SeLeCt"), Kw::Select);
        assert_eq!(lookup(b"UNION"), Kw::Union);
        assert_eq!(lookup(b"selected"), Kw::None);
        assert_eq!(lookup(b"averyveryverylongidentifier"), Kw::None);
        assert!(is_delay_function(b"PG_SLEEP"));
        assert!(is_catalog_name(b"Information_Schema"));
        assert!(!is_catalog_name(b"information"));
        assert!(is_catalog_name(b"PG_USER"));
        assert!(is_catalog_name(b"master.dbo.sysdatabases"));
    }
}
