using Cocoon.Testing;

[assembly: AssemblyFixture(typeof(PostgresFixture))]
