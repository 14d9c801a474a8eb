# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_redash_gitops_global_optspecs
    string join \n v/verbose h/help V/version
end

function __fish_redash_gitops_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_redash_gitops_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_redash_gitops_using_subcommand
    set -l cmd (__fish_redash_gitops_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -s V -l version -d 'Print version'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "plan" -d 'Show what a sync would change in Redash (exit 0: no changes, 2: changes, 1: error)'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "sync" -d 'Make Redash match the manifests'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "watch" -d 'Sync on every save: re-validate and apply to a development Redash until Ctrl-C'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "export" -d 'Write existing Redash content as manifests and .sql files (a sync then adopts it in place)'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "results" -d 'Fetch a query\'s result (cached, or executed now) as CSV or JSON'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "validate" -d 'Check manifests: schema, references, placeholders; with a server also data sources and, with --execute, the SQL'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "crds" -d 'Print the CustomResourceDefinitions of Query, Dashboard and RedashConnection'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "schema" -d 'Print the JSON Schemas of the manifests and of redash-gitops.yaml (for editors)'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "demo" -d 'Start the built-in emulator, sync the examples into it, and show both plans'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "operator" -d 'Run the Kubernetes operator: reconcile Query, Dashboard and RedashConnection resources'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "emulator" -d 'Run the built-in Redash emulator (an in-memory, Redash-compatible server)'
complete -c redash-gitops -n "__fish_redash_gitops_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l url -d 'Redash base URL, e.g. https://redash.example.com' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l api-key-file -d 'File holding the API key (a user\'s key); otherwise REDASH_API_KEY is read' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l config -d 'Configuration file (default: redash-gitops.yaml here or in a parent, up to the repository root)' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l env -d 'Environment of the configuration file to use (its URL, owner, data sources, key)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l request-timeout -d 'Longest wait for one answer from Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l connect-timeout -d 'Longest wait to open a connection to Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l retries -d 'Times a failed read or update is tried again (lost connection, timeout, 429, 5xx); a create is tried again only once a look-up shows it did not happen' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l retry-delay -d 'Wait before the first retry; it doubles with each attempt, with jitter, unless Redash says how long to wait (Retry-After)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l cache-dir -d 'Directory of the manifest cache (default: $XDG_CACHE_HOME/redash-gitops, else ~/.cache/redash-gitops); only valid documents are kept, by their text' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l owner -d 'Ownership scope: objects marked by another owner are never changed (default: `default`)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l max-archive -d 'Most objects one run may archive (default: at most half of the managed ones)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l drift -d 'What to do with changes made in Redash: overwrite them, fail, or ignore them' -r -f -a "overwrite\t''
fail\t''
ignore\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l concurrency -d 'Most requests in flight at once; fewer while the server answers 429/503 or slows down (default 8: twice the 4 workers of a default Redash, so none waits for the client)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l map-data-source -d 'Use data source NEW on this server where manifests say OLD (repeatable)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l output -d 'Output format' -r -f -a "text\t''
json\t''
markdown\t'A summary for a pull-request comment'"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l color -d 'Colour: auto (only on a terminal, never with NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l timeout -d 'Time allowed to each query execution before its job is cancelled (e.g. 30s, 5m)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l no-cache -d 'Parse every manifest document, and neither read nor write the cache'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l adopt -d 'Take over unmanaged Redash objects whose names match resources'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l prune -d 'Archive managed objects that are no longer in the manifests'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l no-prune -d 'Do not archive, whatever the configuration says'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l force -d 'Archive queries even when dashboards not managed here lose widgets'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l refresh-children -d 'Also read the visualizations and widgets of objects whose list entry shows them as last applied, to find edits made to them in Redash\'s UI (costs one request per object)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l execute -d 'Run the SQL of every new or changed query on its data source first (nothing is saved); any failure fails the command, and a sync then changes nothing'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -l refresh -d 'After a sync, execute the queries whose SQL changed, so that dashboards show fresh data'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand plan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l url -d 'Redash base URL, e.g. https://redash.example.com' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l api-key-file -d 'File holding the API key (a user\'s key); otherwise REDASH_API_KEY is read' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l config -d 'Configuration file (default: redash-gitops.yaml here or in a parent, up to the repository root)' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l env -d 'Environment of the configuration file to use (its URL, owner, data sources, key)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l request-timeout -d 'Longest wait for one answer from Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l connect-timeout -d 'Longest wait to open a connection to Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l retries -d 'Times a failed read or update is tried again (lost connection, timeout, 429, 5xx); a create is tried again only once a look-up shows it did not happen' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l retry-delay -d 'Wait before the first retry; it doubles with each attempt, with jitter, unless Redash says how long to wait (Retry-After)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l cache-dir -d 'Directory of the manifest cache (default: $XDG_CACHE_HOME/redash-gitops, else ~/.cache/redash-gitops); only valid documents are kept, by their text' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l owner -d 'Ownership scope: objects marked by another owner are never changed (default: `default`)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l max-archive -d 'Most objects one run may archive (default: at most half of the managed ones)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l drift -d 'What to do with changes made in Redash: overwrite them, fail, or ignore them' -r -f -a "overwrite\t''
fail\t''
ignore\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l concurrency -d 'Most requests in flight at once; fewer while the server answers 429/503 or slows down (default 8: twice the 4 workers of a default Redash, so none waits for the client)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l map-data-source -d 'Use data source NEW on this server where manifests say OLD (repeatable)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l output -d 'Output format' -r -f -a "text\t''
json\t''
markdown\t'A summary for a pull-request comment'"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l color -d 'Colour: auto (only on a terminal, never with NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l timeout -d 'Time allowed to each query execution before its job is cancelled (e.g. 30s, 5m)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l no-cache -d 'Parse every manifest document, and neither read nor write the cache'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l adopt -d 'Take over unmanaged Redash objects whose names match resources'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l prune -d 'Archive managed objects that are no longer in the manifests'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l no-prune -d 'Do not archive, whatever the configuration says'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l force -d 'Archive queries even when dashboards not managed here lose widgets'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l refresh-children -d 'Also read the visualizations and widgets of objects whose list entry shows them as last applied, to find edits made to them in Redash\'s UI (costs one request per object)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l execute -d 'Run the SQL of every new or changed query on its data source first (nothing is saved); any failure fails the command, and a sync then changes nothing'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l refresh -d 'After a sync, execute the queries whose SQL changed, so that dashboards show fresh data'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -l dry-run -d 'Show the plan and change nothing (exit 2 when there are changes)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l url -d 'Redash base URL, e.g. https://redash.example.com' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l api-key-file -d 'File holding the API key (a user\'s key); otherwise REDASH_API_KEY is read' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l config -d 'Configuration file (default: redash-gitops.yaml here or in a parent, up to the repository root)' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l env -d 'Environment of the configuration file to use (its URL, owner, data sources, key)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l request-timeout -d 'Longest wait for one answer from Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l connect-timeout -d 'Longest wait to open a connection to Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l retries -d 'Times a failed read or update is tried again (lost connection, timeout, 429, 5xx); a create is tried again only once a look-up shows it did not happen' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l retry-delay -d 'Wait before the first retry; it doubles with each attempt, with jitter, unless Redash says how long to wait (Retry-After)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l cache-dir -d 'Directory of the manifest cache (default: $XDG_CACHE_HOME/redash-gitops, else ~/.cache/redash-gitops); only valid documents are kept, by their text' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l owner -d 'Ownership scope: objects marked by another owner are never changed (default: `default`)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l max-archive -d 'Most objects one run may archive (default: at most half of the managed ones)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l drift -d 'What to do with changes made in Redash: overwrite them, fail, or ignore them' -r -f -a "overwrite\t''
fail\t''
ignore\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l concurrency -d 'Most requests in flight at once; fewer while the server answers 429/503 or slows down (default 8: twice the 4 workers of a default Redash, so none waits for the client)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l map-data-source -d 'Use data source NEW on this server where manifests say OLD (repeatable)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l output -d 'Output format' -r -f -a "text\t''
json\t''
markdown\t'A summary for a pull-request comment'"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l color -d 'Colour: auto (only on a terminal, never with NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l timeout -d 'Time allowed to each query execution before its job is cancelled (e.g. 30s, 5m)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l debounce -d 'Quiet time after the last save before syncing (one sync per burst of saves)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l no-cache -d 'Parse every manifest document, and neither read nor write the cache'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l adopt -d 'Take over unmanaged Redash objects whose names match resources'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l prune -d 'Archive managed objects that are no longer in the manifests'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l no-prune -d 'Do not archive, whatever the configuration says'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l force -d 'Archive queries even when dashboards not managed here lose widgets'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l refresh-children -d 'Also read the visualizations and widgets of objects whose list entry shows them as last applied, to find edits made to them in Redash\'s UI (costs one request per object)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l execute -d 'Run the SQL of every new or changed query on its data source first (nothing is saved); any failure fails the command, and a sync then changes nothing'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -l refresh -d 'After a sync, execute the queries whose SQL changed, so that dashboards show fresh data'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l out -d 'Directory to write queries/, dashboards/, alerts/ and snippets/ into' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l url -d 'Redash base URL, e.g. https://redash.example.com' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l api-key-file -d 'File holding the API key (a user\'s key); otherwise REDASH_API_KEY is read' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l config -d 'Configuration file (default: redash-gitops.yaml here or in a parent, up to the repository root)' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l env -d 'Environment of the configuration file to use (its URL, owner, data sources, key)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l request-timeout -d 'Longest wait for one answer from Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l connect-timeout -d 'Longest wait to open a connection to Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l retries -d 'Times a failed read or update is tried again (lost connection, timeout, 429, 5xx); a create is tried again only once a look-up shows it did not happen' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l retry-delay -d 'Wait before the first retry; it doubles with each attempt, with jitter, unless Redash says how long to wait (Retry-After)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l tag -d 'Only objects with this tag (repeatable: all of them)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l query -d 'Only this query (repeatable), by Redash id' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l dashboard -d 'Only this dashboard (repeatable), by Redash id, with the queries its widgets show' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l map-data-source -d 'Write data source NEW where Redash says OLD (repeatable)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l concurrency -d 'Requests in flight at once' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l include-archived -d 'Export archived queries and dashboards too'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -l clean -d 'Remove files under DIR/queries, dashboards, alerts and snippets that this export does not write'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand export" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l url -d 'Redash base URL, e.g. https://redash.example.com' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l api-key-file -d 'File holding the API key (a user\'s key); otherwise REDASH_API_KEY is read' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l config -d 'Configuration file (default: redash-gitops.yaml here or in a parent, up to the repository root)' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l env -d 'Environment of the configuration file to use (its URL, owner, data sources, key)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l request-timeout -d 'Longest wait for one answer from Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l connect-timeout -d 'Longest wait to open a connection to Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l retries -d 'Times a failed read or update is tried again (lost connection, timeout, 429, 5xx); a create is tried again only once a look-up shows it did not happen' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l retry-delay -d 'Wait before the first retry; it doubles with each attempt, with jitter, unless Redash says how long to wait (Retry-After)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l param -d 'A parameter value (repeatable); parameters not given take their defaults' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l max-age -d 'Accept a cached result at most this many seconds old; 0 always executes, -1 takes any' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l format -d 'Output format' -r -f -a "csv\t''
json\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l out -d 'Write to this file instead of standard output' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l timeout -d 'Time allowed to an execution before its job is cancelled (e.g. 30s, 5m)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l namespace -d 'Namespace of the manifest name' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -l owner -d 'Ownership scope the manifest name belongs to (default: `default`)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand results" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l url -d 'Redash base URL, e.g. https://redash.example.com' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l api-key-file -d 'File holding the API key (a user\'s key); otherwise REDASH_API_KEY is read' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l config -d 'Configuration file (default: redash-gitops.yaml here or in a parent, up to the repository root)' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l env -d 'Environment of the configuration file to use (its URL, owner, data sources, key)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l request-timeout -d 'Longest wait for one answer from Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l connect-timeout -d 'Longest wait to open a connection to Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l retries -d 'Times a failed read or update is tried again (lost connection, timeout, 429, 5xx); a create is tried again only once a look-up shows it did not happen' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l retry-delay -d 'Wait before the first retry; it doubles with each attempt, with jitter, unless Redash says how long to wait (Retry-After)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l cache-dir -d 'Directory of the manifest cache (default: $XDG_CACHE_HOME/redash-gitops, else ~/.cache/redash-gitops); only valid documents are kept, by their text' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l timeout -d 'Time allowed to each query execution before its job is cancelled' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l owner -d 'Ownership scope (to tell new and changed queries from the others)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l map-data-source -d 'Use data source NEW on this server where manifests say OLD (repeatable)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l color -d 'Colour: auto, always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l no-cache -d 'Parse every manifest document, and neither read nor write the cache'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l offline -d 'Check nothing that needs Redash, even when a URL is configured'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -l execute -d 'Also run the SQL of every new or changed query on Redash (nothing is saved)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand validate" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand crds" -l out -d 'Write one file per CRD into this directory instead of printing them' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand crds" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand crds" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand schema" -l out -d 'Write every schema into this directory instead of printing one' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand schema" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand schema" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand completions" -l out -d 'Write the scripts of every shell into this directory instead' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand completions" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand completions" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand demo" -l color -d 'Colour: auto, always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand demo" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand demo" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l namespace -d 'Namespace to watch (repeatable, or comma-separated); none: all namespaces' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l resync-period -d 'How often every resource is synced again to undo drift (e.g. 30s, 5m, 1h)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l concurrency -d 'Requests in flight to one Redash' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l reconcile-concurrency -d 'Resources of one kind reconciled at once' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l metrics-addr -d 'Address for /metrics, /healthz and /readyz' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l leader-election -d 'Elect a leader through a Lease so that only one replica writes' -r -f -a "true\t''
false\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l lease-name -d 'Name of the Lease' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l lease-namespace -d 'Namespace of the Lease (the pod\'s own)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l identity -d 'This replica\'s identity (the pod name)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -l log-level -d 'Log filter, e.g. info or redash_gitops=debug' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand operator" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l port -d 'Port to listen on (0 picks a free one; the address is printed on stdout)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l bind -d 'Address to bind' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l api-key -d 'The admin user\'s API key' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l seed -d 'Seed for generated values (query API keys), for reproducible runs' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l job-delay-ms -d 'How long a query execution takes, in milliseconds (queued for the first half, then started)' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l faults -d 'Faults to inject (YAML: `seed` and `rules`, each rule `nth` or `method`/`path`, with `probability`, `times` and a `fault` such as `{kind: error, status: 503}`)' -r -F
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l workers -d 'Serve like a real server of this many workers (each request waits for a free worker and takes its service time); without it the emulator answers as fast as it can' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l service-ms -d 'Service times in milliseconds with --workers: a list page, a single object, a write' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -l queue-limit -d 'With --workers: requests allowed to wait for a worker; more are answered 503' -r
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -s v -l verbose -d 'Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides; the operator has --log-level)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand emulator" -s h -l help -d 'Print help'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "plan" -d 'Show what a sync would change in Redash (exit 0: no changes, 2: changes, 1: error)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "sync" -d 'Make Redash match the manifests'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "watch" -d 'Sync on every save: re-validate and apply to a development Redash until Ctrl-C'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "export" -d 'Write existing Redash content as manifests and .sql files (a sync then adopts it in place)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "results" -d 'Fetch a query\'s result (cached, or executed now) as CSV or JSON'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "validate" -d 'Check manifests: schema, references, placeholders; with a server also data sources and, with --execute, the SQL'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "crds" -d 'Print the CustomResourceDefinitions of Query, Dashboard and RedashConnection'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "schema" -d 'Print the JSON Schemas of the manifests and of redash-gitops.yaml (for editors)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "completions" -d 'Print a shell completion script'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "demo" -d 'Start the built-in emulator, sync the examples into it, and show both plans'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "operator" -d 'Run the Kubernetes operator: reconcile Query, Dashboard and RedashConnection resources'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "emulator" -d 'Run the built-in Redash emulator (an in-memory, Redash-compatible server)'
complete -c redash-gitops -n "__fish_redash_gitops_using_subcommand help; and not __fish_seen_subcommand_from plan sync watch export results validate crds schema completions demo operator emulator help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
