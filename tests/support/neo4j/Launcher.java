import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.configuration.ssl.ClientAuth;
import org.neo4j.configuration.ssl.SslPolicyConfig;
import org.neo4j.configuration.ssl.SslPolicyScope;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilder;
import org.neo4j.harness.Neo4jBuilders;

/**
 * An in-process Neo4j with only Bolt on 127.0.0.1, for tests and the demo.
 * Arguments: data folder, Bolt port, password of the neo4j user, and
 * optionally a folder holding server.crt and server.key: Bolt then also
 * accepts TLS (encryption level OPTIONAL, so plain Bolt keeps working).
 * Prints one "ready" line once Bolt accepts connections; runs until killed.
 */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length != 3 && args.length != 4) {
            System.err.println("usage: Launcher DATA_DIR BOLT_PORT PASSWORD [CERT_DIR]");
            System.exit(2);
        }
        long started = System.nanoTime();
        Neo4jBuilder builder = Neo4jBuilders.newInProcessBuilder(Path.of(args[0]))
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", Integer.parseInt(args[1])))
                .withConfig(GraphDatabaseSettings.auth_enabled, true);
        if (args.length == 4) {
            Path certs = Path.of(args[3]);
            Files.createDirectories(certs.resolve("trusted"));
            Files.createDirectories(certs.resolve("revoked"));
            SslPolicyConfig bolt = SslPolicyConfig.forScope(SslPolicyScope.BOLT);
            builder = builder
                    .withConfig(bolt.enabled, true)
                    .withConfig(bolt.base_directory, certs)
                    .withConfig(bolt.private_key, certs.resolve("server.key"))
                    .withConfig(bolt.public_certificate, certs.resolve("server.crt"))
                    .withConfig(bolt.client_auth, ClientAuth.NONE)
                    .withConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.OPTIONAL);
        }
        Neo4j neo4j = builder.build();
        Runtime.getRuntime().addShutdownHook(new Thread(neo4j::close));
        // The embedded API bypasses auth: set the password tests connect with.
        neo4j.databaseManagementService()
                .database("system")
                .executeTransactionally(
                        "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                        Map.of("password", args[2]));
        long ms = (System.nanoTime() - started) / 1_000_000;
        System.out.println("neo4j ready on bolt://" + neo4j.boltURI().getAuthority() + " after " + ms + " ms");
        System.out.flush();
        Thread.currentThread().join();
    }
}
