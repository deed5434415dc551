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

# The GeoIP database the buildpack fetched at build time, unless a config var names another one.
palisade_geo_db="$HOME/.palisade/${MAXMIND_EDITION:-GeoLite2-Country}.mmdb"
if [ -f "$palisade_geo_db" ]; then
  case "$palisade_geo_db" in
    *Anonymous*)
      if [ -z "${PALISADE_ANONYMOUS_DATABASE:-}" ]; then
        PALISADE_ANONYMOUS_DATABASE=$palisade_geo_db
        export PALISADE_ANONYMOUS_DATABASE
      fi
      ;;
    *)
      if [ -z "${PALISADE_GEO_DATABASE:-}" ]; then
        PALISADE_GEO_DATABASE=$palisade_geo_db
        export PALISADE_GEO_DATABASE
      fi
      ;;
  esac
fi
unset palisade_geo_db

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
