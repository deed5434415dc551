# shellcheck shell=sh
# Palisade WAF (installed by the Palisade buildpack as .profile.d/palisade.sh).
#
# Sourced at dyno start, after config vars are set and before the Procfile command is expanded,
# by whatever shell starts the dyno: keep it POSIX sh, no bashisms, and never `exit`.
#
# 1. Puts palisade on PATH (every dyno type: `heroku run palisade check` works).
# 2. On web dynos only, keeps the public port for palisade and gives the app a private one, so that
#    `web: palisade run -- bundle exec puma -p $PORT` is safe even though the shell expands $PORT
#    before palisade starts: $PORT already names the private port by then. palisade reads the
#    public port from PALISADE_PUBLIC_PORT. Worker and one-off dynos keep their environment.
#    With the kill switch (PALISADE_ENABLED=false) nothing is remapped: palisade then runs the app
#    directly on the public port.
#
# Paths are relative to $HOME (the app directory on a dyno), never the build directory.

PATH="$HOME/.palisade/bin:$PATH"
export PATH

if [ -f "$HOME/.palisade/geoip/${MAXMIND_EDITION:-GeoLite2-Country}.mmdb" ] && [ -z "${PALISADE_GEOIP_DB:-}" ]; then
  PALISADE_GEOIP_DB="$HOME/.palisade/geoip/${MAXMIND_EDITION:-GeoLite2-Country}.mmdb"
  export PALISADE_GEOIP_DB
fi

case "${DYNO:-}" in
  web.*)
    # Same spellings palisade accepts for "false" (any case).
    case "${PALISADE_ENABLED:-true}" in
      [Ff][Aa][Ll][Ss][Ee] | [Oo][Ff][Ff] | [Nn][Oo] | 0) ;;
      *)
        # Only once (a second sourcing must not move the port again), and only a numeric PORT.
        if [ -n "${PORT:-}" ] && [ -z "${PALISADE_PUBLIC_PORT:-}" ]; then
          case "$PORT" in
            *[!0-9]*) ;;
            *)
              PALISADE_PUBLIC_PORT=$PORT
              if [ -n "${PALISADE_APP_PORT:-}" ]; then
                PORT=$PALISADE_APP_PORT
              elif [ "$PORT" -lt 65535 ]; then
                PORT=$((PORT + 1))
              else
                PORT=$((PORT - 1))
              fi
              export PALISADE_PUBLIC_PORT PORT
              ;;
          esac
        fi
        ;;
    esac
    ;;
esac
