# Sourced by bench/serve.sh and bench/nextjs.sh: the baseline both compare with, nginx with
# sendfile serving ROOT/<file> at http://127.0.0.1:$nginx_port/datasets/<file>.
#
#   port                   a free loopback port
#   start_nginx WORK ROOT  starts it (the nginx on PATH, else Debian's package unpacked into
#                          WORK), sets nginx_port and appends its pid to the caller's `pids`

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_nginx() {
  local work=$1 root=$2 bin
  bin=$(command -v nginx || true)
  if [ -z "$bin" ]; then
    (cd "$work" && apt-get download -q nginx >/dev/null 2>&1 && dpkg -x nginx_*.deb nginx-pkg) ||
      { echo "no nginx: install it (apt-get install -y nginx)" >&2; exit 1; }
    bin=$work/nginx-pkg/usr/sbin/nginx
  fi
  nginx_port=$(port)
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location /datasets/ { alias $root/; default_type application/octet-stream; }
  }
}
CONF
  "$bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
  pids+=($!)
}
