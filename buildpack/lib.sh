# shellcheck shell=bash
# Shared helpers for the Palisade buildpack: sourced by bin/compile (classic API) and bin/build
# (Cloud Native Buildpacks). Bash, because both run on Heroku's build images, which have it; the
# scripts that run on a dyno (.profile.d, exec.d) are POSIX sh and live in their own files.
#
# Nothing here downloads at dyno boot: every fetch happens at build time and is pinned by sha256.

# Config vars that only the buildpack reads. They are never handed to `palisade check`, so a
# typo-checking policy loader does not have to know about them.
readonly BP_ONLY_VARS=" PALISADE_BINARY_URL PALISADE_BINARY_SHA256 PALISADE_GEOIP_URL PALISADE_GEOIP_SHA256 "

# Heroku's build output style: a topic line, then detail indented by 7 spaces.
bp_topic() { printf -- '-----> %s\n' "$*"; }
bp_info() { printf -- '       %s\n' "$*"; }
bp_indent() { sed -u 's/^/       /'; }
bp_warn() { printf -- ' !     WARNING: %s\n' "$*" >&2; }

# Prints an error block (every argument one line) in Heroku's ` !     ` style and exits 1.
bp_die() {
  local line
  printf ' !\n' >&2
  for line in "$@"; do printf ' !     %s\n' "$line" >&2; done
  printf ' !\n' >&2
  exit 1
}

# Exports the config vars the buildpack cares about (PALISADE_*, MAXMIND_*) from a directory that
# holds one file per variable (classic ENV_DIR, or CNB's <platform>/env). Everything else in there
# (PATH, GIT_DIR, LD_LIBRARY_PATH, ...) is deliberately not exported into the build.
bp_load_env_dir() {
  local dir=$1 file name
  [[ -d $dir ]] || return 0
  for file in "$dir"/*; do
    [[ -f $file ]] || continue
    name=${file##*/}
    if [[ $name =~ ^(PALISADE|MAXMIND)_[A-Z0-9_]+$ ]]; then
      export "$name=$(cat "$file")"
    fi
  done
}

# Debian-style architecture name of the machine (or of CNB_TARGET_ARCH when a CNB platform says).
bp_arch() {
  local machine=${CNB_TARGET_ARCH:-$(uname -m)}
  case $machine in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) bp_die "Palisade has no build for this machine architecture: $machine" \
      "Supported: amd64 (x86_64) and arm64 (aarch64)." ;;
  esac
}

bp_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Looks up the artifact for one architecture in inventory.toml and prints
# "<version> <url> <sha256>" (sha256 may be "-" when the entry has none yet).
# The file is a flat list of [[artifacts]] tables with string values; awk keeps the buildpack free
# of any TOML tool, which Heroku's build images do not ship.
bp_inventory_lookup() {
  local inventory=$1 arch=$2
  awk -v want="$arch" '
    function flush() {
      if (arch == want && os == "linux") { print version, url, (sha == "" ? "-" : sha); found = 1; exit }
    }
    /^[[:space:]]*\[\[artifacts\]\][[:space:]]*$/ { flush(); version = url = sha = arch = os = ""; next }
    /^[[:space:]]*[a-z0-9_]+[[:space:]]*=/ {
      key = $0; sub(/[[:space:]]*=.*/, "", key); gsub(/[[:space:]]/, "", key)
      val = $0; sub(/^[^=]*=[[:space:]]*"/, "", val); sub(/"[[:space:]]*(#.*)?$/, "", val)
      if (key == "version") version = val
      else if (key == "url") url = val
      else if (key == "sha256") sha = val
      else if (key == "arch") arch = val
      else if (key == "os") os = val
    }
    END { if (!found) flush() }
  ' "$inventory"
}

# Downloads URL to DEST (http(s) with retries and timeouts; file:// for offline tests and mirrors).
bp_download() {
  local url=$1 dest=$2
  curl --fail --silent --show-error --location \
    --proto '=https,http,file' \
    --retry "${BP_CURL_RETRIES:-3}" --retry-connrefused --retry-delay 1 \
    --connect-timeout 10 --max-time 300 \
    ${BP_CURL_NETRC:+--netrc-file "$BP_CURL_NETRC"} \
    --output "$dest" "$url"
}

# Sets BP_FETCHED to the path of a local copy of URL whose sha256 is SHA, using CACHE (a directory)
# keyed by checksum: a warm cache never touches the network. A cached file is re-verified before
# use, and a download is verified before it enters the cache. LABEL names the thing in messages.
# (A variable, not stdout, so that progress lines stay on stdout in order with the rest.)
bp_fetch_verified() {
  local url=$1 sha=$2 cache=$3 label=$4
  local cached="$cache/sha256-$sha" partial actual
  mkdir -p "$cache"
  if [[ -f $cached ]]; then
    if [[ $(bp_sha256 "$cached") == "$sha" ]]; then
      bp_info "Using cached $label (sha256 ${sha:0:12}...)"
      BP_FETCHED=$cached
      return 0
    fi
    bp_warn "Cached $label failed its checksum; downloading it again."
    rm -f "$cached"
  fi
  bp_info "Downloading $label from $(bp_redact_url "$url")"
  partial=$(mktemp "$cache/.download.XXXXXX")
  if ! bp_download "$url" "$partial" 2> "$partial.err"; then
    local reason
    reason=$(tr '\n' ' ' < "$partial.err")
    rm -f "$partial" "$partial.err"
    bp_die "Could not download $label." \
      "URL: $(bp_redact_url "$url")" \
      "Reason: ${reason:-unknown}" \
      "Nothing was deployed. Retry the build; if the outage persists, host the artifact yourself" \
      "and point PALISADE_BINARY_URL / PALISADE_BINARY_SHA256 (or the GeoIP equivalents) at it."
  fi
  rm -f "$partial.err"
  actual=$(bp_sha256 "$partial")
  if [[ $actual != "$sha" ]]; then
    rm -f "$partial"
    bp_die "Checksum mismatch for $label: refusing to install it." \
      "URL:      $(bp_redact_url "$url")" \
      "expected: sha256 $sha" \
      "got:      sha256 $actual" \
      "The download was corrupted or tampered with, or the pinned checksum is wrong." \
      "Nothing was deployed."
  fi
  mv "$partial" "$cached"
  # Only the pinned artifact is worth keeping: drop what earlier pins left behind.
  find "$cache" -maxdepth 1 -name 'sha256-*' ! -name "sha256-$sha" -delete
  BP_FETCHED=$cached
}

# Hides credentials (license keys, user:password@) in a URL before it is printed.
bp_redact_url() {
  sed -E 's#(license_key=)[^&]*#\1REDACTED#; s#(://)[^/@]*@#\1REDACTED@#' <<< "$1"
}

# Resolves which palisade artifact to install: PALISADE_BINARY_URL + PALISADE_BINARY_SHA256 when
# set, otherwise the pinned inventory entry for this architecture. Sets BP_ART_URL, BP_ART_SHA256,
# BP_ART_LABEL.
# shellcheck disable=SC2034 # the BP_ART_* results are read by bin/compile and bin/build
bp_resolve_artifact() {
  local inventory=$1 arch version url sha
  arch=$(bp_arch)
  if [[ -n ${PALISADE_BINARY_URL:-} ]]; then
    [[ -n ${PALISADE_BINARY_SHA256:-} ]] || bp_die \
      "PALISADE_BINARY_URL is set but PALISADE_BINARY_SHA256 is not." \
      "Set PALISADE_BINARY_SHA256 to the artifact's sha256 (64 hex digits): the buildpack" \
      "never installs an unverified binary."
    [[ $PALISADE_BINARY_SHA256 =~ ^[0-9a-f]{64}$ ]] || bp_die \
      "PALISADE_BINARY_SHA256=\"$PALISADE_BINARY_SHA256\" is not a sha256." \
      "Allowed: 64 lowercase hex digits, as printed by 'sha256sum'."
    BP_ART_URL=$PALISADE_BINARY_URL
    BP_ART_SHA256=$PALISADE_BINARY_SHA256
    BP_ART_LABEL="palisade [PALISADE_BINARY_URL, $arch]"
    return 0
  fi
  [[ -f $inventory ]] || bp_die "The buildpack's inventory is missing: $inventory"
  read -r version url sha <<< "$(bp_inventory_lookup "$inventory" "$arch")"
  [[ -n ${url:-} ]] || bp_die "No palisade artifact for linux/$arch in buildpack/inventory.toml."
  [[ $sha != "-" ]] || bp_die \
    "The pinned palisade $version for linux/$arch has no published sha256 yet." \
    "Use an amd64 stack, or build the artifact yourself (ci/release.sh on an $arch machine) and" \
    "set PALISADE_BINARY_URL and PALISADE_BINARY_SHA256."
  BP_ART_URL=$url
  BP_ART_SHA256=$sha
  BP_ART_LABEL="palisade $version ($arch)"
}

# Installs the palisade artifact (tarball: <dir>/bin/palisade, <dir>/rulesets, <dir>/LICENSE) into
# DEST, replacing what was there, and checks that the binary runs on this stack. Prints the
# binary's version line.
bp_install_palisade() {
  local tarball=$1 dest=$2 staging version
  staging=$(mktemp -d "${dest%/*}/.palisade-staging.XXXXXX")
  if ! tar -xzf "$tarball" -C "$staging" --strip-components=1 --no-same-owner 2> "$staging.err"; then
    local reason
    reason=$(cat "$staging.err")
    rm -rf "$staging" "$staging.err"
    bp_die "The palisade artifact is not a readable tarball: $reason"
  fi
  rm -f "$staging.err"
  [[ -x $staging/bin/palisade ]] || {
    rm -rf "$staging"
    bp_die "The palisade artifact has no executable bin/palisade."
  }
  if ! version=$("$staging/bin/palisade" --version 2>&1); then
    rm -rf "$staging"
    bp_die "The palisade binary does not run on this stack:" "$version" \
      "Palisade needs glibc 2.36 or newer (heroku-24, heroku-26)."
  fi
  rm -rf "$dest"
  mv "$staging" "$dest"
  echo "$version"
}

# Fetches the optional GeoIP database into DEST_DIR (as <edition>.mmdb), cached in CACHE, and sets
# BP_GEO_DB to its path and BP_GEO_VAR to the palisade setting that reads it
# (PALISADE_ANONYMOUS_DATABASE for an Anonymous-IP edition, else PALISADE_GEO_DATABASE).
# Sources, first match wins:
#   PALISADE_GEOIP_URL + PALISADE_GEOIP_SHA256 : an .mmdb or a MaxMind-style .tar.gz holding one;
#   MAXMIND_LICENSE_KEY [+ MAXMIND_ACCOUNT_ID] [+ MAXMIND_EDITION, default GeoLite2-Country]:
#     MaxMind's download service, verified against the sha256 file MaxMind publishes beside it.
# No source, or MaxMind unreachable with nothing cached: geo features are reported unavailable and
# the build goes on (geo rules then fail to match; nothing else depends on the database).
bp_install_geoip() {
  local dest_dir=$1 cache=$2 url sha edition archive
  BP_GEO_DB=""
  BP_GEO_VAR=""
  edition=${MAXMIND_EDITION:-GeoLite2-Country}
  [[ $edition =~ ^[A-Za-z0-9-]+$ ]] || bp_die \
    "MAXMIND_EDITION=\"$edition\" is not a MaxMind edition id." \
    "Allowed: letters, digits and '-', e.g. GeoLite2-Country or GeoIP2-City."
  if [[ -n ${PALISADE_GEOIP_URL:-} ]]; then
    [[ ${PALISADE_GEOIP_SHA256:-} =~ ^[0-9a-f]{64}$ ]] || bp_die \
      "PALISADE_GEOIP_URL is set but PALISADE_GEOIP_SHA256=\"${PALISADE_GEOIP_SHA256:-}\" is not a sha256." \
      "Allowed: 64 lowercase hex digits, as printed by 'sha256sum'."
    url=$PALISADE_GEOIP_URL
    sha=$PALISADE_GEOIP_SHA256
  elif [[ -n ${MAXMIND_LICENSE_KEY:-} ]]; then
    local base sha_file
    if [[ -n ${MAXMIND_ACCOUNT_ID:-} ]]; then
      base="https://download.maxmind.com/geoip/databases/$edition/download?suffix="
      # Credentials reach curl through a netrc file, never a command line other users can see.
      BP_CURL_NETRC=$(mktemp)
      printf 'machine download.maxmind.com login %s password %s\n' \
        "$MAXMIND_ACCOUNT_ID" "$MAXMIND_LICENSE_KEY" > "$BP_CURL_NETRC"
    else
      base="https://download.maxmind.com/app/geoip_download?edition_id=$edition&license_key=$MAXMIND_LICENSE_KEY&suffix="
    fi
    url="${base}tar.gz"
    sha_file=$(mktemp)
    if bp_download "${base}tar.gz.sha256" "$sha_file" 2> /dev/null; then
      sha=$(cut -d' ' -f1 < "$sha_file")
    fi
    rm -f "$sha_file"
    if [[ ! ${sha:-} =~ ^[0-9a-f]{64}$ ]]; then
      if [[ -f $cache/last-$edition ]]; then
        sha=$(cat "$cache/last-$edition")
        bp_warn "MaxMind is unreachable; using the cached $edition database."
      else
        bp_warn "Could not reach MaxMind for $edition (check MAXMIND_LICENSE_KEY / MAXMIND_ACCOUNT_ID)."
        bp_info "GeoIP: unavailable (geo rules will not match). The build continues."
        [[ -z ${BP_CURL_NETRC:-} ]] || rm -f "$BP_CURL_NETRC"
        return 0
      fi
    fi
  else
    bp_info "GeoIP: unavailable (no MAXMIND_LICENSE_KEY or PALISADE_GEOIP_URL set; geo rules will not match)"
    return 0
  fi
  bp_fetch_verified "$url" "$sha" "$cache" "GeoIP database $edition"
  archive=$BP_FETCHED
  if [[ -n ${BP_CURL_NETRC:-} ]]; then
    rm -f "$BP_CURL_NETRC"
    unset BP_CURL_NETRC
  fi
  echo "$sha" > "$cache/last-$edition"
  mkdir -p "$dest_dir"
  if gzip -t "$archive" 2> /dev/null; then
    local mmdb
    mmdb=$(tar -tzf "$archive" | grep -m1 '\.mmdb$' || true)
    [[ -n $mmdb ]] || bp_die "The GeoIP archive from $(bp_redact_url "$url") holds no .mmdb file."
    tar -xzf "$archive" -O "$mmdb" > "$dest_dir/$edition.mmdb"
  else
    cp "$archive" "$dest_dir/$edition.mmdb"
  fi
  BP_GEO_DB="$dest_dir/$edition.mmdb"
  BP_GEO_VAR=PALISADE_GEO_DATABASE
  [[ $edition != *Anonymous* ]] || BP_GEO_VAR=PALISADE_ANONYMOUS_DATABASE
  bp_info "GeoIP: $edition installed (sha256 ${sha:0:12}...; $BP_GEO_VAR points at it)"
}

# Runs `palisade check --hipaa` in APP_DIR with the app's PALISADE_* config and prints its output
# indented. On an invalid config the build fails with palisade's message (which names the variable
# or file:line, the value and what is allowed). PORT/DYNO are not passed: they do not exist at
# build time, and the checks that need them happen again at boot. RUNTIME_HOME is where the app
# directory will be at run time (/app on Heroku, /workspace for CNB): a PALISADE_CONFIG under it is
# looked up in APP_DIR instead.
bp_validate_config() {
  local app_dir=$1 palisade=$2 runtime_home=$3 name value out status
  local -a env_args=("PATH=/usr/bin:/bin" "HOME=$app_dir" "LANG=C.UTF-8")
  while IFS='=' read -r name _; do
    [[ $name =~ ^PALISADE_[A-Z0-9_]+$ ]] || continue
    [[ $BP_ONLY_VARS == *" $name "* ]] && continue
    value=${!name}
    if [[ $name == PALISADE_CONFIG && $value == "$runtime_home"/* ]]; then
      value="$app_dir/${value#"$runtime_home"/}"
    fi
    env_args+=("$name=$value")
  done < <(env)
  # The database the buildpack installed is checked too (palisade opens it), unless the app's
  # config names another one.
  if [[ -n ${BP_GEO_DB:-} && -z ${!BP_GEO_VAR:-} ]]; then
    env_args+=("$BP_GEO_VAR=$BP_GEO_DB")
  fi
  bp_topic "Validating Palisade configuration (palisade check --hipaa)"
  set +e
  out=$(cd "$app_dir" && env -i "${env_args[@]}" "$palisade" check --hipaa 2>&1)
  status=$?
  set -e
  printf '%s\n' "$out" | bp_indent
  if [[ $status -ne 0 ]]; then
    bp_die "Invalid Palisade configuration (palisade check exited $status): the build stops here," \
      "so nothing with this configuration is deployed. Fix the value named above and push again."
  fi
}

# Warns when the app's web process does not run through palisade. (At boot such a dyno does not
# serve at all on a web dyno: the .profile.d script has moved the app off the public port.)
bp_check_procfile() {
  local app_dir=$1 web
  if [[ ! -f $app_dir/Procfile ]]; then
    bp_warn "No Procfile: add one with  web: palisade run -- <your web command>"
    return 0
  fi
  web=$(sed -n 's/^web:[[:space:]]*//p' "$app_dir/Procfile" | head -n1)
  if [[ -z $web ]]; then
    bp_info "Procfile has no web process: nothing for Palisade to protect."
  elif [[ $web =~ (^|[[:space:]/])palisade[[:space:]]+run([[:space:]]|$) ]]; then
    bp_info "Procfile web process runs through palisade: $web"
  else
    bp_warn "The Procfile web process does not start with 'palisade run --':"
    bp_warn "    web: $web"
    bp_warn "Palisade keeps the public port, so this dyno will not serve (fail closed). Use:"
    bp_warn "    web: palisade run -- $web"
  fi
}
