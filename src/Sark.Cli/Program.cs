internal static class P { static void Main(){} }
