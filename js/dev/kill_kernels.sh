#!/bin/sh
# Shut down every kernel of a dev JupyterLab so the next run loads the fresh bundle.
# Usage: dev/kill_kernels.sh http://127.0.0.1:8899/user/alice/ TOKEN
for id in $(curl -s -H "Authorization: token $2" "$1api/kernels" | python3 -c 'import json,sys; print(" ".join(k["id"] for k in json.load(sys.stdin)))'); do
  curl -s -X DELETE -H "Authorization: token $2" "$1api/kernels/$id"
done
